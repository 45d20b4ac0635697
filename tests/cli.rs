//! End-to-end tests that drive the real `omendb` binary.

use std::process::Command;

fn omendb() -> Command {
    Command::new(env!("CARGO_BIN_EXE_omendb"))
}

#[test]
fn help_lists_every_subcommand() {
    let out = omendb().arg("--help").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for sub in ["up", "server", "control-plane", "operator"] {
        assert!(
            text.contains(sub),
            "--help does not mention `{sub}`:\n{text}"
        );
    }
}

#[test]
fn operator_prints_its_crd_and_fails_clearly_without_a_cluster() {
    let out = omendb().args(["operator", "crd"]).output().unwrap();
    assert!(out.status.success());
    let crd = String::from_utf8(out.stdout).unwrap();
    assert!(
        crd.contains("kind: CustomResourceDefinition")
            && crd.contains("name: omendatabases.omendb.io")
    );
    let out = omendb()
        .args(["operator", "--http-listen", "127.0.0.1:0"])
        .env("KUBECONFIG", "/nonexistent/kubeconfig")
        .env_remove("KUBERNETES_SERVICE_HOST")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.to_lowercase().contains("kube"), "{err}");
}

#[test]
fn unknown_subcommand_is_a_usage_error() {
    let out = omendb().arg("frobnicate").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8(out.stderr)
            .unwrap()
            .contains("unrecognized subcommand")
    );
}

#[test]
fn server_refuses_to_start_without_users() {
    let dir = tempfile::tempdir().unwrap();
    let out = omendb()
        .args(["server", "--data-dir"])
        .arg(dir.path())
        .args(["--listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0"])
        .env_remove("OMENDB_USER")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("no users"), "{err}");
}

#[test]
fn passwd_prints_a_scram_verifier_not_the_password() {
    use std::io::Write;
    let mut child = omendb()
        .arg("passwd")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"correct horse\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let line = String::from_utf8(out.stdout).unwrap();
    assert!(line.starts_with("SCRAM-SHA-256$4096:"), "{line}");
    assert!(!line.contains("correct horse"));
    let v = omendb_server::scram::Verifier::parse(line.trim()).unwrap();
    assert!(v.matches("correct horse"));
}
