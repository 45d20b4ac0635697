//! SQL over OmenDB's learned-array tables with Apache DataFusion.
//!
//! [`LearnedTable`] is the `TableProvider` every table goes through. It takes the filters DataFusion offers
//! and answers the ones on the primary key exactly through the learned index: `pk = c`, `pk IN (...)`,
//! OR-chains of equalities, and ranges (`<`, `<=`, `>`, `>=`, `BETWEEN`), with LIMIT pushed into the scan.
//! Everything else is left to DataFusion, which still gets correct rows from a full scan.

mod provider;
mod pushdown;
mod scan_exec;

pub use provider::{LearnedTable, ScanCounters};
pub use pushdown::KeyPlan;
