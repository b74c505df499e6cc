//! Publishing a changed configuration to a running server (`switchboard flows publish`,
//! SIGHUP): a valid one goes live whole, a broken one is refused and the running one stays.

use std::process::Command;
use std::time::Duration;

use switchboard_tests::{Server, binary, derive_config, root, sipp};

const DOMAIN: &str = "demo.switchboard.test";

fn publish(config: &std::path::Path) -> (Option<i32>, String, String) {
    let out = Command::new(binary())
        .args(["flows", "publish", "--config"])
        .arg(config)
        .current_dir(root())
        .output()
        .expect("run switchboard flows publish");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn registers(server: &Server, user: &str, password: &str) -> bool {
    sipp(
        server.sip,
        "register.xml",
        &format!("{user};{password};{DOMAIN}"),
        &[],
    )
    .success()
}

#[test]
fn a_valid_config_is_published_and_a_broken_one_refused() {
    let cfg = derive_config(&[("    algorithms: [SHA-256, MD5]", "    algorithms: [MD5]")]);
    let server = Server::start(&cfg.path).expect("server");
    assert!(
        !registers(&server, "erin", "demo-erin"),
        "erin is not a user yet"
    );

    // The admin adds a user and publishes.
    let original = std::fs::read_to_string(&cfg.path).expect("read config");
    assert_eq!(original.matches("\nusers:\n").count(), 1);
    let with_erin = original.replace(
        "\nusers:\n",
        "\nusers:\n  - username: erin\n    password: demo-erin\n    security_profiles: [Agent]\n    routing_profile: Support only\n    phone: softphone\n",
    );
    std::fs::write(&cfg.path, &with_erin).expect("write config");
    let (code, stdout, stderr) = publish(&cfg.path);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("published"), "{stdout}");
    let mut live = false;
    for _ in 0..50 {
        if server.log_text().contains("configuration reloaded") {
            live = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(live, "{}", server.log_text());
    assert!(
        registers(&server, "erin", "demo-erin"),
        "erin can register after publishing"
    );

    // A broken edit is refused with its location, and nothing changes.
    let broken = with_erin.replace(
        "    routing_profile: Support only\n    phone: softphone\n",
        "    routing_profile: Nowhere\n    phone: softphone\n",
    );
    std::fs::write(&cfg.path, &broken).expect("write config");
    let (code, _, stderr) = publish(&cfg.path);
    assert_eq!(code, Some(64));
    assert!(
        stderr.contains("switchboard.yaml:")
            && stderr.contains("unknown routing profile `Nowhere`"),
        "{stderr}"
    );
    assert!(stderr.contains("nothing published"), "{stderr}");
    // Even a SIGHUP sent by hand with the broken file in place changes nothing.
    let pid = std::fs::read_to_string(
        cfg.path
            .parent()
            .unwrap()
            .parent()
            .unwrap()
            .join("data/switchboard.pid"),
    )
    .expect("pid file");
    Command::new("kill")
        .args(["-HUP", pid.trim()])
        .status()
        .expect("kill");
    let mut refused = false;
    for _ in 0..50 {
        if server.log_text().contains("reload refused") {
            refused = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(refused, "{}", server.log_text());
    assert!(
        server
            .log_text()
            .contains("unknown routing profile `Nowhere`"),
        "{}",
        server.log_text()
    );
    let again = sipp(
        server.sip,
        "register.xml",
        &format!("erin;demo-erin;{DOMAIN}"),
        &[],
    );
    assert!(
        again.success(),
        "the running config stays: {}\n{}",
        again.explain(),
        server.log_text()
    );
}
