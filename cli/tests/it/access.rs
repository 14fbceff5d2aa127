//! Who may read `serve`: `--allow` ranges, and TLS with basic
//! authentication from a `--web.config.file`.
