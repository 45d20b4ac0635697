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
fn unbuilt_subcommands_say_so_and_fail() {
    for sub in ["up", "server", "control-plane", "operator"] {
        let out = omendb().arg(sub).output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(2),
            "`omendb {sub}` should exit 2 until it is built"
        );
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(
            err.contains("not built yet"),
            "`omendb {sub}` printed: {err}"
        );
    }
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
