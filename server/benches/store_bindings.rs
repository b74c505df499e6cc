//! Write-behind throughput of the bindings table: one `apply_bindings` batch of 1,000 changes,
//! the registrar's largest batch, on SQLite (a file in a temporary directory) and, when it is
//! reachable, PostgreSQL (`SWITCHBOARD_TEST_POSTGRES_URL`, default
//! `postgres://127.0.0.1:5432/test`, in a throw-away schema).
//!
//! The table first holds 20,000 phones (one contact each; every third uses RFC 5626 outbound).
//! Each iteration touches 1,000 of them spread over the key space, as registrations arrive:
//! - `refresh`: re-REGISTER with a new CSeq and expiry (rows updated in place);
//! - `rebind`: outbound phones re-REGISTER from a new NAT port: same instance and reg-id, new
//!   Contact, so the old row is deleted and a new one inserted (table size stays the same).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use sqlx::Connection;
use switchboard::store::{Binding, BindingChange, Store};
use tokio::runtime::Runtime;

const PHONES: u64 = 20_000;
const BATCH: u64 = 1_000;
const NOW: i64 = 1_790_000_000_000;

/// Phone `n` registering for the `generation`-th time; `port` is its NAT-mapped source port.
fn register(n: u64, generation: u64, port: u64) -> BindingChange {
    let username = format!("agent{n:05}");
    let outbound = n.is_multiple_of(3);
    let g = i64::try_from(generation).unwrap();
    BindingChange::Upsert(Binding {
        contact: format!("sip:{username}@198.51.{}.{}:{port}", n / 250 % 256, n % 250),
        instance_id: outbound.then(|| format!("<urn:uuid:00000000-0000-0000-0000-{n:012}>")),
        reg_id: outbound.then_some(1),
        expires_at_unix_ms: NOW + 3_600_000 + g,
        call_id: format!("{n}@198.51.100.1"),
        cseq: g + 1,
        source: format!("udp:198.51.{}.{}:{port}", n / 250 % 256, n % 250),
        user_agent: Some("Yealink SIP-T46U 66.86.0.15".to_owned()),
        q: None,
        updated_at_unix_ms: NOW + g,
        username,
    })
}

/// 1,000 phones spread over the key space; `stride` 3 keeps to outbound phones (multiples of 3).
fn phones(generation: u64, stride: u64) -> impl Iterator<Item = u64> {
    (0..BATCH).map(move |i| stride * ((i * 19 + generation) % (PHONES / stride)))
}

fn bench_backend(c: &mut Criterion, rt: &Runtime, name: &str, store: &Store) {
    let all: Vec<_> = (0..PHONES).map(|n| register(n, 0, 5060)).collect();
    rt.block_on(store.apply_bindings(&all)).unwrap();

    let mut group = c.benchmark_group(format!("store_bindings/{name}"));
    group.throughput(Throughput::Elements(BATCH));
    group.measurement_time(Duration::from_secs(10));
    group.sample_size(30);

    let mut generation = 0;
    group.bench_function(BenchmarkId::new("batch_1000", "refresh"), |b| {
        b.iter_batched(
            || {
                generation += 1;
                phones(generation, 1)
                    .map(|n| register(n, generation, 5060))
                    .collect::<Vec<_>>()
            },
            |batch| rt.block_on(store.apply_bindings(&batch)).unwrap(),
            BatchSize::LargeInput,
        )
    });
    group.bench_function(BenchmarkId::new("batch_1000", "rebind"), |b| {
        b.iter_batched(
            || {
                generation += 1;
                phones(generation, 3)
                    .map(|n| register(n, generation, 10_000 + generation % 50_000))
                    .collect::<Vec<_>>()
            },
            |batch| rt.block_on(store.apply_bindings(&batch)).unwrap(),
            BatchSize::LargeInput,
        )
    });
    group.finish();
    let rows = rt.block_on(store.load_bindings(NOW)).unwrap().len();
    assert_eq!(
        rows,
        usize::try_from(PHONES).unwrap(),
        "the table kept its size"
    );
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
