//! `switchboard check` and `serve` on configs an admin got wrong: the exact
//! `file:line:col: message`, exit code 64, and no port bound.

use std::process::Command;

use switchboard_tests::{binary, free_port, root};

fn run(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(binary())
        .args(args)
        .current_dir(root())
        .env_remove("SWITCHBOARD_CONFIG")
        .output()
        .expect("run switchboard");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn valid_config_passes() {
    let (code, stdout, _) = run(&["check", "--config", "tests/fixtures/valid.yaml"]);
    assert_eq!(code, Some(0));
    assert_eq!(
        stdout,
        "tests/fixtures/valid.yaml: valid (1 users, 1 queues, 4 flows)\n"
    );
}

#[test]
fn the_shipped_config_passes() {
    let (code, _, stderr) = run(&["check", "--config", "config/switchboard.yaml"]);
    assert_eq!(code, Some(0), "{stderr}");
}

#[test]
fn broken_yaml_is_reported_with_line_and_column() {
    let (code, _, stderr) = run(&["check", "--config", "tests/fixtures/broken-yaml.yaml"]);
    assert_eq!(code, Some(64));
    assert_eq!(
        stderr,
        "tests/fixtures/broken-yaml.yaml:42:11: unclosed quote\n"
    );
}

#[test]
fn dangling_reference_is_reported_with_line_and_column() {
    let (code, _, stderr) = run(&["check", "--config", "tests/fixtures/dangling-queue.yaml"]);
    assert_eq!(code, Some(64));
    assert_eq!(
        stderr,
        "tests/fixtures/dangling-queue.yaml:28:18: unknown queue `Billing`; known queues: Support\n"
    );
}

#[test]
fn serve_refuses_a_bad_config_before_binding_any_port() {
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let (code, _, stderr) = run(&[
        "serve",
        "--config",
        "tests/fixtures/dangling-queue.yaml",
        "--sip-udp",
        &addr,
        "--sip-tcp",
        &addr,
        "--http",
        &format!("127.0.0.1:{}", free_port()),
    ]);
    assert_eq!(code, Some(64));
    assert!(
        stderr.contains("dangling-queue.yaml:28:18: unknown queue `Billing`"),
        "{stderr}"
    );
    assert!(!stderr.contains("listening"), "{stderr}");
}

#[test]
fn flows_render_draws_the_shipped_main_menu() {
    let (code, stdout, stderr) = run(&["flows", "render", "main-menu"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.starts_with("flowchart TD\n"), "{stdout}");
    assert!(stdout.contains("menu<br/>get_customer_input"), "{stdout}");
    let (code, _, stderr) = run(&["flows", "render", "no-such-flow"]);
    assert_eq!(code, Some(64));
    assert!(stderr.contains("unknown flow `no-such-flow`"), "{stderr}");
}
