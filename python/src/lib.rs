//! `parallel_scoreboard._native`: the Python face of the `parallel-scoreboard`
//! crate (`PyO3`). The package `parallel_scoreboard` (`python/python/`) re-exports
//! these classes and defines the exceptions (`_errors.py`), which this module
//! raises through `errors::to_py`.
//!
//! The calls keep the crate's costs: `Worker.update` is the crate's update
//! behind `PyO3`'s method call (no system call, no lock, the GIL kept: releasing
//! it would cost more than the update), and reads copy the board with the GIL
//! released, then build the Python objects with it held (`read`).

mod board;
mod errors;
mod json;
mod read;
mod status;
mod worker;

use pyo3::prelude::*;

/// The native classes; `parallel_scoreboard` re-exports them.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<board::PyScoreboard>()?;
    m.add_class::<worker::PyWorker>()?;
    m.add_class::<read::PySnapshot>()?;
    m.add_class::<read::PyWorkerStatus>()?;
    m.add_class::<read::PyCleanup>()?;
    Ok(())
}
