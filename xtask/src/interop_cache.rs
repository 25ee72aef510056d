//! `interop-cache`: MSAL Python 1.39 reads a cache tokenhop wrote and gets silent hits;
//! tokenhop reads a cache MSAL wrote and gives MSAL's own answers.

use std::process::Command;

use crate::python::msal_python;
use crate::util::{cargo, run, workspace_root};

pub fn check() -> Result<(), String> {
    let Some(python) = msal_python()? else {
        return Ok(());
    };
    let script = workspace_root().join("tests/interop/cache_roundtrip.py");
    let dir = std::env::temp_dir().join(format!("tokenhop-interop-cache-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let (ours, theirs, answers) = (
        dir.join("tokenhop.json"),
        dir.join("msal.json"),
        dir.join("msal-answers.json"),
    );
    let example = |args: &[&std::path::Path]| {
        let mut command = cargo();
        command.args([
            "run",
            "--quiet",
            "-p",
            "tokenhop-cache",
            "--example",
            "interop",
            "--",
        ]);
        command.args(args);
        command
    };
    let outcome = run(&mut example(&[std::path::Path::new("write"), &ours]))
        .and_then(|()| {
            run(Command::new(&python)
                .arg(&script)
                .arg("read-tokenhop")
                .arg(&ours))
        })
        .and_then(|()| {
            run(Command::new(&python)
                .arg(&script)
                .arg("write-msal")
                .arg(&theirs)
                .arg(&answers))
        })
        .and_then(|()| {
            run(&mut example(&[
                std::path::Path::new("check"),
                &theirs,
                &answers,
            ]))
        });
    let _ = std::fs::remove_dir_all(&dir);
    outcome
}
