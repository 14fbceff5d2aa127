//! The committed header is the one cbindgen makes from the code.

use std::path::Path;

/// Regenerates the header from `src/` and compares it with
/// `include/parallel_scoreboard.h`. With `PSB_BLESS_HEADER=1`, writes it
/// instead.
#[test]
fn committed_header_is_generated() {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config =
        cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).expect("cbindgen.toml");
    let mut generated = Vec::new();
    cbindgen::Builder::new()
        .with_crate(crate_dir)
        .with_config(config)
        .generate()
        .expect("cbindgen generates the header")
        .write(&mut generated);
    let generated = String::from_utf8(generated).expect("UTF-8");
    let path = crate_dir.join("include/parallel_scoreboard.h");
    if std::env::var_os("PSB_BLESS_HEADER").is_some() {
        std::fs::write(&path, &generated).expect("write the header");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "{} differs from the code's header; regenerate it with \
         PSB_BLESS_HEADER=1 cargo test -p parallel-scoreboard-ffi --test it header\n\
         --- generated ---\n{generated}",
        path.display()
    );
}

/// The functions the shared library exports are exactly those the header
/// declares: nothing declared that the library lacks, nothing exported
/// that the header does not document.
#[test]
fn the_shared_library_exports_the_headers_functions() {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let header = std::fs::read_to_string(crate_dir.join("include/parallel_scoreboard.h")).unwrap();
    let mut declared: Vec<String> = header
        .lines()
        .filter(|l| !l.starts_with("//") && !l.starts_with(' ') && !l.starts_with("typedef"))
        .filter_map(|l| {
            let name = l.split('(').next()?.rsplit([' ', '*']).next()?;
            (l.contains('(') && name.starts_with("psb_")).then(|| name.to_owned())
        })
        .collect();
    declared.sort();
    let exe = std::env::current_exe().unwrap();
    let so = exe.parent().unwrap().join("libparallel_scoreboard_ffi.so");
    let out = std::process::Command::new("nm")
        .args(["-D", "--defined-only"])
        .arg(&so)
        .output()
        .expect("run nm (binutils)");
    assert!(out.status.success(), "nm {}", so.display());
    let mut exported: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| l.split_whitespace().nth(2))
        .filter(|s| !s.starts_with('_'))
        .map(str::to_owned)
        .collect();
    exported.sort();
    assert!(declared.len() >= 20, "{declared:?}");
    assert_eq!(declared, exported);
}
