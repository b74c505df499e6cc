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

#[test]
fn a_published_flow_serves_new_calls_while_running_calls_keep_their_version() {
    let cfg = derive_config(&[]);
    let server = Server::start(&cfg.path).expect("server");
    let sip = server.sip;
    let caller = |scenario: &'static str, digit: &'static str| {
        let mut audio = switchboard_tests::Handset::bind(440.0);
        let rtp = audio.port().to_string();
        let run = std::thread::spawn(move || {
            sipp(
                sip,
                scenario,
                "x",
                &[
                    ("number", "+15550100"),
                    ("domain", DOMAIN),
                    ("digit", digit),
                    ("rtp_port", &rtp),
                ],
            )
        });
        std::thread::spawn(move || {
            while !run.is_finished() {
                audio.pump();
                std::thread::sleep(Duration::from_millis(5));
            }
            run.join().expect("sipp thread")
        })
    };
    // First caller: the shipped menu; they will press 1 after 2 s.
    let first = caller("inbound_call.xml", "1");
    std::thread::sleep(Duration::from_millis(700));
    // Meanwhile the admin publishes a main menu that closes the line.
    std::fs::write(
        cfg.flow_path("main-menu"),
        "name: main-menu\ntype: inbound\ndescription: Closed for the day.\nstart: closed\n\
         blocks:\n  closed:\n    type: play_prompt\n    prompt: closed\n    next: hang-up\n    \
         on_error: hang-up\n  hang-up:\n    type: disconnect\n",
    )
    .expect("write flow");
    let (code, _, stderr) = publish(&cfg.path);
    assert_eq!(code, Some(0), "{stderr}");
    // A new caller gets the new version: the closed message, then we hang up.
    std::thread::sleep(Duration::from_millis(300));
    let second = caller("inbound_wait_hangup.xml", "0");
    let first = first.join().expect("first caller");
    let second = second.join().expect("second caller");
    let log = server.log_text();
    assert!(log.contains("configuration reloaded"), "{log}");
    assert!(first.success(), "{}\n{log}", first.explain());
    assert!(second.success(), "{}\n{log}", second.explain());
    // The first caller's digit still worked: their contact kept the menu it started with.
    assert!(log.contains("contact queued queue=Sales"), "{log}");
    assert!(log.contains("by=\"flow\""), "{log}");
}
