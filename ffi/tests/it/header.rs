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
