//! Statements planned again before they run: a cached plan made under other values of the settings a plan
//! depends on (search_path, TimeZone), and an autocommit write that a concurrent DDL overtook.

use datafusion::scalar::ScalarValue;

use super::{Kind, Output, Prepared, Session};
use crate::error::{Error, Result, code};

impl Session {
    /// An autocommit write that a concurrent DDL overtook (the table took a new definition, or was
    /// truncated or dropped, between the statement's snapshot and its lock) wrote nothing and was rolled
    /// back. PostgreSQL would have waited for the DDL's lock before planning, so the statement is planned
    /// again on the new catalog and run, a few times at most; a dropped table is then 42P01 as there. A
    /// plan that would take other parameters or return other columns keeps the first error.
    pub(super) async fn replan_overtaken(
        &mut self,
        p: &Prepared,
        params: Vec<ScalarValue>,
        mut r: Result<Output>,
    ) -> Result<Output> {
        for _ in 0..3 {
            if !matches!(r, Err(Error::Storage(omendb_storage::Error::Conflict(_)))) {
                break;
            }
            let Some(stmt) = p.stmt.clone() else { break };
            let declared = vec![None; p.params.len()];
            let again = match self.prepare_stmt(stmt, &declared).await {
                Ok(again) => again,
                Err(e) => return Err(e),
            };
            let same_result = match (&again.result, &p.result) {
                (Some(a), Some(b)) => a.fields() == b.fields(),
                (a, b) => a.is_none() && b.is_none(),
            };
            if again.params != p.params || !same_result {
                break;
            }
            r = self.run_prepared(&again, params.clone()).await;
        }
        r
    }

    /// `p` as it must run now: planned again if a parameter its plan depends on (search_path, TimeZone)
    /// changed since, as PostgreSQL re-plans a cached statement; 0A000 if that changes its columns.
    pub(super) async fn current_plan(&mut self, p: &Prepared) -> Result<Option<Prepared>> {
        let key = self.settings.plan_key();
        if p.planned_under == key
            || !matches!(
                p.kind,
                Kind::Select | Kind::Insert | Kind::Update | Kind::Delete
            )
        {
            return Ok(None);
        }
        if let Some(again) = p.replanned.lock().clone()
            && again.planned_under == key
        {
            return Ok(Some(again));
        }
        let Some(stmt) = p.stmt.clone() else {
            return Ok(None);
        };
        let declared = vec![None; p.params.len()];
        let again = self.prepare_stmt(stmt, &declared).await?;
        let same_result = match (&again.result, &p.result) {
            (Some(a), Some(b)) => {
                a.fields().len() == b.fields().len()
                    && a.fields()
                        .iter()
                        .zip(b.fields())
                        .all(|(a, b)| a.data_type() == b.data_type())
            }
            (a, b) => a.is_none() && b.is_none(),
        };
        if !same_result || again.params.len() != p.params.len() {
            return Err(Error::sql(
                code::FEATURE_NOT_SUPPORTED,
                "cached plan must not change result type",
            ));
        }
        *p.replanned.lock() = Some(again.clone());
        Ok(Some(again))
    }
}

/// Parameter values read for one plan, cast to the types another plan of the same statement takes.
pub(super) fn cast_params(params: Vec<ScalarValue>, p: &Prepared) -> Result<Vec<ScalarValue>> {
    Ok(params
        .into_iter()
        .zip(&p.params)
        .map(|(v, want)| match want {
            Some(t) if v.data_type() != *t => v.cast_to(t),
            _ => Ok(v),
        })
        .collect::<std::result::Result<Vec<_>, _>>()?)
}
