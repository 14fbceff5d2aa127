//! The docs stay true where they quote the code: the CLI reference
//! (`docs/cli.md`) against `scoreboard --help`, the links of README.md,
//! `docs/*.md`, BENCHMARKS.md and RELIABILITY.md, and the list of pages whose Rust code runs as doctests
//! (`src/lib.rs`). The quoted Prometheus files are checked in
//! `monitoring.rs`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::common::{repo_root, scoreboard_ok};

/// The subcommands `scoreboard --help` lists (without `help`).
fn subcommands() -> Vec<String> {
    let help = scoreboard_ok(&["--help"]);
    let commands: Vec<String> = help
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .map(str::to_owned)
        .collect();
    assert!(commands.len() >= 6, "subcommands of\n{help}");
    commands
}

/// The long options `scoreboard <cmd> --help` declares (`--help` and
/// `--version` left out): the first long option of each line that starts
/// with a dash.
fn options_of(cmd: &str) -> BTreeSet<String> {
    let help = scoreboard_ok(&[cmd, "--help"]);
    let options: BTreeSet<String> = help
        .lines()
        .map(str::trim_start)
        .filter(|l| l.starts_with('-'))
        .filter_map(|l| long_options(l).into_iter().next())
        .filter(|o| o != "--help" && o != "--version")
        .collect();
    options
}

/// Every `--option` token in `text`: two dashes, then letters, digits, `-`
/// or `.`, not ending in `-` or `.`.
fn long_options(text: &str) -> Vec<String> {
    let bytes = text.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    while let Some(at) = text[i..].find("--") {
        let start = i + at;
        let before_ok = start == 0 || !is_option_byte(bytes[start - 1]);
        let mut end = start + 2;
        while end < bytes.len() && is_option_byte(bytes[end]) {
            end += 1;
        }
        while end > start + 2 && matches!(bytes[end - 1], b'-' | b'.') {
            end -= 1;
        }
        if before_ok && end > start + 2 && bytes[start + 2].is_ascii_alphabetic() {
            found.push(text[start..end].to_owned());
        }
        i = end.max(start + 2);
    }
    found
}

fn is_option_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_'
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The `## ` sections of a Markdown page: (title, body), fenced code
/// included in the body.
fn sections(page: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut fenced = false;
    for line in page.lines() {
        if line.starts_with("```") {
            fenced = !fenced;
        }
        if !fenced && let Some(title) = line.strip_prefix("## ") {
            out.push((title.to_owned(), String::new()));
        } else if let Some((_, body)) = out.last_mut() {
            body.push_str(line);
            body.push('\n');
        }
    }
    out
}

/// The options a section names as the subcommand's: in a command line that
/// runs cargo, only the words after its ` -- ` count (the rest are cargo's).
fn options_named(body: &str) -> BTreeSet<String> {
    body.lines()
        .map(|l| match l.rfind(" -- ") {
            Some(at) if l.contains("cargo ") => &l[at + 4..],
            _ => l,
        })
        .flat_map(long_options)
        .collect()
}

#[test]
fn the_cli_reference_names_every_option_of_every_subcommand() {
    let page = read(&repo_root().join("docs/cli.md"));
    let sections = sections(&page);
    for cmd in subcommands() {
        let title = format!("`{cmd}`");
        let Some((_, body)) = sections.iter().find(|(t, _)| *t == title) else {
            panic!("docs/cli.md has no section \"## {title}\"");
        };
        let declared = options_of(&cmd);
        let named = options_named(body);
        let missing: Vec<_> = declared.difference(&named).collect();
        assert!(
            missing.is_empty(),
            "docs/cli.md, section {title}, does not name {missing:?} of `scoreboard {cmd} --help`"
        );
        let unknown: Vec<_> = named
            .iter()
            .filter(|o| !declared.contains(*o) && *o != "--help" && *o != "--version")
            .collect();
        assert!(
            unknown.is_empty(),
            "docs/cli.md, section {title}, names {unknown:?}, which `scoreboard {cmd}` lacks"
        );
        assert!(
            page.contains(&format!("| `scoreboard {cmd}")),
            "the table of docs/cli.md has no row for `scoreboard {cmd}`"
        );
    }
}

/// What `scoreboard --help` says after its options (exit statuses, the
/// environment), paragraph by paragraph, is quoted in `docs/cli.md`.
#[test]
fn the_cli_reference_quotes_the_exit_statuses_of_help() {
    let help = scoreboard_ok(&["--help"]);
    let epilogue = &help[help.find("Exit status:").expect("an exit status in --help")..];
    let page = read(&repo_root().join("docs/cli.md"));
    for paragraph in epilogue
        .split("\n\n")
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        assert!(
            page.contains(&format!("\n{paragraph}\n")),
            "docs/cli.md does not quote this paragraph of `scoreboard --help`:\n{paragraph}"
        );
    }
}

/// README.md and every page of `docs/`.
fn pages() -> Vec<PathBuf> {
    let root = repo_root();
    let mut pages = vec![root.join("README.md")];
    for entry in std::fs::read_dir(root.join("docs")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "md") {
            pages.push(path);
        }
    }
    pages.sort();
    assert!(pages.len() >= 8, "{pages:?}");
    pages
}

/// The link targets of a Markdown page outside fenced code: inline links
/// `[text](target)` and images, and reference definitions `[name]: target`.
fn links(page: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut fenced = false;
    for line in page.lines() {
        if line.starts_with("```") || line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        let mut rest = line;
        while let Some(at) = rest.find("](") {
            let after = &rest[at + 2..];
            let Some(end) = after.find(')') else { break };
            out.push(after[..end].to_owned());
            rest = &after[end..];
        }
        if line.starts_with('[')
            && let Some((_, target)) = line.split_once("]: ")
        {
            out.push(target.trim().to_owned());
        }
    }
    out
}

/// The anchors of a page's headings, as GitHub makes them: lower case,
/// spaces to `-`, every character but letters, digits, `-` and `_` left out.
fn anchors(page: &str) -> BTreeSet<String> {
    let mut fenced = false;
    let mut out = BTreeSet::new();
    for line in page.lines() {
        if line.starts_with("```") {
            fenced = !fenced;
        }
        if fenced || !line.starts_with('#') {
            continue;
        }
        let title = line.trim_start_matches('#').trim();
        let slug: String = title
            .to_lowercase()
            .chars()
            .filter_map(|c| match c {
                ' ' => Some('-'),
                c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
                _ => None,
            })
            .collect();
        out.insert(slug);
    }
    out
}

#[test]
fn relative_links_of_the_docs_lead_to_files_and_sections() {
    let mut broken = Vec::new();
    let mut checked = 0;
    let root = repo_root();
    let mut linking = pages();
    linking.extend(["BENCHMARKS.md", "RELIABILITY.md"].map(|p| root.join(p)));
    for page in linking {
        let text = read(&page);
        let dir = page.parent().unwrap();
        for link in links(&text) {
            if link.contains("://") || link.starts_with("mailto:") {
                continue;
            }
            let (path, anchor) = match link.split_once('#') {
                Some((p, a)) => (p, Some(a)),
                None => (link.as_str(), None),
            };
            let target = if path.is_empty() {
                page.clone()
            } else {
                dir.join(path)
            };
            checked += 1;
            if !target.exists() {
                broken.push(format!("{}: {link}: no such file", page.display()));
                continue;
            }
            if let Some(anchor) = anchor
                && !anchors(&read(&target)).contains(anchor)
            {
                broken.push(format!("{}: {link}: no such section", page.display()));
            }
        }
    }
    assert!(checked > 30, "only {checked} links found");
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

#[test]
fn every_page_of_docs_is_compiled_as_doctests() {
    let root = repo_root();
    let lib = read(&root.join("src/lib.rs"));
    for page in pages() {
        let relative = page.strip_prefix(&root).unwrap().display().to_string();
        assert!(
            lib.contains(&format!("#[doc = include_str!(\"../{relative}\")]")),
            "src/lib.rs does not run the code of {relative} as doctests"
        );
    }
    // The crate's own front page is its guide, not the README.
    assert!(!lib.contains("#![doc = include_str!"), "src/lib.rs");
}

#[test]
fn the_option_parser_of_these_tests_finds_what_it_should() {
    assert_eq!(
        long_options("`--web.config.file FILE`, --max-connections N, a -- b, --x., e--f"),
        ["--web.config.file", "--max-connections", "--x"]
    );
    assert_eq!(
        options_named("$ cargo run --release -p scoreboard-cli -- demo --seconds 3\n"),
        BTreeSet::from(["--seconds".to_owned()])
    );
    assert!(
        anchors("## What `serve` exposes, and who can read it\n")
            .contains("what-serve-exposes-and-who-can-read-it")
    );
}

#[test]
fn the_readme_lists_every_subcommand() {
    let readme = read(&repo_root().join("README.md"));
    for cmd in subcommands() {
        assert!(
            readme.contains(&format!("\nscoreboard {cmd} ")),
            "README.md does not list `scoreboard {cmd}`"
        );
    }
}

/// `docs/deployment.md` quotes the error a user outside a shared board's
/// group gets as `scoreboard list` prints it (for a board at
/// `/run/app/board`). Runs as root, as CI does: the board is given to
/// `nobody` and read as another user with `setpriv`.
#[test]
fn the_deployment_page_quotes_the_refusal_as_scoreboard_prints_it() {
    use std::os::unix::fs::PermissionsExt;

    let tmp = crate::common::tempdir();
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o711)).unwrap();
    let dir = tmp.path().join("board");
    std::fs::create_dir(&dir).unwrap();
    std::os::unix::fs::chown(&dir, Some(65_534), Some(64_999)).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o2750)).unwrap();
    let out = crate::common::as_user(crate::common::BIN, (64_002, 64_002, &[]))
        .args(["list", dir.to_str().unwrap()])
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run scoreboard");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = crate::common::one_line_error(&out).replace(dir.to_str().unwrap(), "/run/app/board");
    let page = read(&repo_root().join("docs/deployment.md"));
    assert!(
        page.contains(&format!("```text\n{err}```")),
        "docs/deployment.md does not quote the refusal as it is printed:\n{err}"
    );
}
