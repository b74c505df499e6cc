//! Write-behind throughput of the bindings table: one `apply_bindings` batch of 1,000 upserts,
//! the registrar's largest batch, on SQLite (a file in a temporary directory) and, when it is
//! reachable, PostgreSQL (`SWITCHBOARD_TEST_POSTGRES_URL`, default
//! `postgres://127.0.0.1:5432/test`, in a throw-away schema).
//!
//! Two shapes: `refresh` re-registers 1,000 known contacts (the steady state: rows updated in
//! place), `new` registers 1,000 contacts never seen before (rows inserted, table growing).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use sqlx::Connection;
use switchboard::store::{Binding, BindingChange, Store};
use tokio::runtime::Runtime;

const BATCH: usize = 1_000;
const NOW: i64 = 1_790_000_000_000;

fn batch(generation: u64, fresh_contacts: bool) -> Vec<BindingChange> {
    (0..BATCH)
        .map(|i| {
            let username = format!("agent{i:05}");
            let contact = if fresh_contacts {
                format!("sip:{username}@10.2.0.{}:{}", i % 250, 10_000 + generation)
            } else {
                format!("sip:{username}@10.2.0.{}:5060", i % 250)
            };
            // A third of the phones use RFC 5626 outbound, which costs an extra delete.
            let outbound = i % 3 == 0 && !fresh_contacts;
            BindingChange::Upsert(Binding {
                username,
                contact,
                instance_id: outbound
                    .then(|| format!("<urn:uuid:00000000-0000-0000-0000-{i:012}>")),
                reg_id: outbound.then_some(1),
                expires_at_unix_ms: NOW + 3_600_000,
                call_id: format!("{i}-{generation}@10.2.0.1"),
                cseq: i64::try_from(generation).unwrap_or(i64::MAX),
                source: format!("udp:10.2.0.{}:5060", i % 250),
                user_agent: Some("Yealink SIP-T46U 66.86.0.15".to_owned()),
                q: None,
                updated_at_unix_ms: NOW,
            })
        })
        .collect()
}

fn bench_backend(c: &mut Criterion, rt: &Runtime, name: &str, store: &Store) {
    let mut group = c.benchmark_group(format!("store_bindings/{name}"));
    group.throughput(Throughput::Elements(BATCH as u64));
    group.measurement_time(Duration::from_secs(10));
    group.sample_size(30);

    let refresh = batch(0, false);
    rt.block_on(store.apply_bindings(&refresh)).unwrap();
    group.bench_function(BenchmarkId::new("upsert_1000", "refresh"), |b| {
        b.iter(|| rt.block_on(store.apply_bindings(&refresh)).unwrap())
    });

    let mut generation = 0;
    group.bench_function(BenchmarkId::new("upsert_1000", "new"), |b| {
        b.iter_batched(
            || {
                generation += 1;
                batch(generation, true)
            },
            |fresh| rt.block_on(store.apply_bindings(&fresh)).unwrap(),
            criterion::BatchSize::LargeInput,
        )
    });
    group.finish();
}

fn store_bindings(c: &mut Criterion) {
    let rt = Runtime::new().unwrap();

    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let sqlite = rt.block_on(Store::open(&url)).unwrap();
    bench_backend(c, &rt, "sqlite", &sqlite);
    rt.block_on(sqlite.close());

    let base = postgres_url();
    let schema = format!("sb_bench_{}", uuid::Uuid::new_v4().simple());
    let admin = rt.block_on(async {
        let mut conn = sqlx::PgConnection::connect(&base).await?;
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
            .execute(&mut conn)
            .await?;
        Ok::<_, sqlx::Error>(conn)
    });
    match admin {
        Ok(mut admin) => {
            let sep = if base.contains('?') { '&' } else { '?' };
            let url = format!("{base}{sep}options=-c%20search_path%3D{schema}");
            let postgres = rt.block_on(Store::open(&url)).unwrap();
            bench_backend(c, &rt, "postgres", &postgres);
            rt.block_on(async {
                postgres.close().await;
                sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
                    .execute(&mut admin)
                    .await
                    .unwrap();
            });
        }
        Err(error) => eprintln!("SKIPPED PostgreSQL bench: not reachable at {base}: {error}"),
    }
}

/// As in tests/store.rs: a URL without a user gets `PGUSER`, `USER`, `LOGNAME` or `postgres`.
fn postgres_url() -> String {
    let url = std::env::var("SWITCHBOARD_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://127.0.0.1:5432/test".to_owned());
    let Some((scheme, rest)) = url.split_once("://") else {
        return url;
    };
    if rest
        .split(['/', '?'])
        .next()
        .unwrap_or_default()
        .contains('@')
    {
        return url;
    }
    let user = ["PGUSER", "USER", "LOGNAME"]
        .into_iter()
        .find_map(|var| std::env::var(var).ok().filter(|v| !v.is_empty()))
        .unwrap_or_else(|| "postgres".to_owned());
    format!("{scheme}://{user}@{rest}")
}

criterion_group!(benches, store_bindings);
criterion_main!(benches);
