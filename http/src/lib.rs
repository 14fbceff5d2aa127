//! HTTP for parallel-scoreboard boards.

#![cfg_attr(docsrs, feature(doc_cfg))]

mod auto;
mod html;
mod json;
#[cfg(feature = "tower")]
mod layer;
mod prometheus;
mod record;
#[cfg(feature = "axum")]
mod router;
mod summary;
#[cfg(feature = "tower")]
mod sys;
mod time;
mod totals;

pub use auto::auto;
pub use html::{HtmlOptions, HtmlOptionsBuilder, html};
pub use json::{json_list, json_map};
#[cfg(feature = "tower")]
pub use layer::{
    DEFAULT_MAX_IDLE, DEFAULT_PREFIX, ResponseFuture, ScoreboardBody, ScoreboardLayer,
    ScoreboardLayerBuilder, ScoreboardService,
};
pub use prometheus::{
    OPENMETRICS_CONTENT_TYPE, PROMETHEUS_CONTENT_TYPE, openmetrics, openmetrics_with_totals,
    prometheus, prometheus_with_totals, wants_openmetrics,
};
pub use record::{Record, count_states, seconds_since, state};
use record::{escaped, text_state};
#[cfg(feature = "axum")]
pub use router::RouterBuilder;
pub use summary::{GRID_KEY, Rates, RatesOver, Summary, grid_char};
pub use time::{parse_rfc3339, rfc3339};
pub use totals::{Tally, Totals};
