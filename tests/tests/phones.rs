//! Real softphones against the real binary: Linphone (liblinphone, which answers SHA-256
//! challenges) and baresip (whose binding must survive a server restart).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use switchboard_tests::{Server, derive_config, free_port, require_tool, sipp};

const DOMAIN: &str = "demo.switchboard.test";

/// Polls `f` every 100 ms for up to `secs`.
fn eventually(secs: u64, mut f: impl FnMut() -> bool) -> bool {
    for _ in 0..secs * 10 {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

struct Phone(Child);

impl Drop for Phone {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn linphone(dir: &Path, server: &Server, user: &str, password: &str) -> Phone {
    require_tool("linphonec", "linphone-cli");
    std::fs::create_dir_all(dir.join(".local/share/linphone")).expect("linphone data dir");
    let rc = dir.join("linphonerc");
    std::fs::write(
        &rc,
        format!(
            "[sip]\nsip_port={port}\nsip_tcp_port=0\n\
             [proxy_0]\nreg_proxy=<sip:{sip};transport=udp>\nreg_identity=sip:{user}@{DOMAIN}\n\
             reg_expires=600\nreg_sendregister=1\n\
             [auth_info_0]\nusername={user}\npasswd={password}\nrealm={DOMAIN}\ndomain={DOMAIN}\n",
            port = free_port(),
            sip = server.sip,
        ),
    )
    .expect("write linphonerc");
    let log = std::fs::File::create(dir.join("linphone.log")).expect("log file");
    let child = Command::new("linphonec")
        .arg("-c")
        .arg(&rc)
        .args(["-d", "5"])
        .env("HOME", dir)
        .stdin(Stdio::piped())
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .expect("start linphonec");
    Phone(child)
}

#[test]
fn linphone_registers_with_sha256() {
    // The shipped config: SHA-256 offered first, as RFC 8760 prefers.
    let cfg = derive_config(&[]);
    let server = Server::start(&cfg.path).expect("server");
    let home = tempfile::tempdir().expect("tempdir");
    let _phone = linphone(home.path(), &server, "alice", "demo-alice");
    assert!(
        eventually(15, || server
            .metric("switchboard_sip_active_bindings")
            .unwrap_or(0.0)
            == 1.0),
        "linphone did not register; server log:\n{}",
        server.log_text()
    );
    // Linphone logs the 200 a moment after the server has counted the binding.
    let read_log = || std::fs::read_to_string(home.path().join("linphone.log")).unwrap_or_default();
    assert!(
        eventually(5, || read_log().contains("SIP/2.0 200 OK")),
        "{}",
        read_log()
    );
    let log = read_log();
    let answer = log
        .lines()
        .find(|l| l.starts_with("Authorization:"))
        .expect("linphone answered the challenge");
    assert!(answer.contains("algorithm=SHA-256"), "{answer}");
}

fn baresip(dir: &Path, server: &Server, port: u16) -> Phone {
    require_tool("baresip", "baresip");
    std::fs::write(
        dir.join("accounts"),
        format!(
            "<sip:alice@{DOMAIN}>;auth_pass=demo-alice;outbound=\"sip:{};transport=udp\";regint=3600\n",
            server.sip
        ),
    )
    .expect("accounts");
    std::fs::write(
        dir.join("config"),
        format!(
            "sip_listen 127.0.0.1:{port}\nmodule_path /usr/lib/baresip/modules\n\
             module g711.so\nmodule account.so\nmodule ausine.so\nmodule aufile.so\n\
             audio_player aufile,/dev/null\naudio_source ausine,440\n"
        ),
    )
    .expect("config");
    let log = std::fs::File::create(dir.join("baresip.log")).expect("log file");
    let child = Command::new("baresip")
        .arg("-f")
        .arg(dir)
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .expect("start baresip");
    Phone(child)
}

#[test]
fn baresip_stays_registered_across_a_restart() {
    // Debian's baresip (libre 1.x) knows only MD5 and gives up on a 401 that also offers
    // SHA-256, so this center offers MD5 alone (see the comment in the shipped config).
    let cfg = derive_config(&[("    algorithms: [SHA-256, MD5]", "    algorithms: [MD5]")]);
    let mut server = Server::start(&cfg.path).expect("server");
    let home = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let _phone = baresip(home.path(), &server, port);
    assert!(
        eventually(15, || server
            .metric("switchboard_sip_active_bindings")
            .unwrap_or(0.0)
            == 1.0),
        "baresip did not register:\n{}",
        std::fs::read_to_string(home.path().join("baresip.log")).unwrap_or_default()
    );
    server.stop().expect("clean stop");
    server.restart().expect("restart");
    // Right after the restart, before baresip's next refresh (an hour away), the binding
    // is back from SQLite and a query lists baresip's own contact.
    assert_eq!(
        server.metric("switchboard_sip_active_bindings").unwrap(),
        1.0
    );
    let query = sipp(
        server.sip,
        "register_query.xml",
        &format!("alice;demo-alice;{DOMAIN}"),
        &[],
    );
    assert!(query.success(), "{}", query.explain());
    assert!(
        query.messages.contains(&format!("@127.0.0.1:{port}")),
        "baresip's contact is not listed:\n{}",
        query.messages
    );
}
