//! ALTER SEQUENCE (its text rewritten by `alter_forms.rs` into a marked CREATE SEQUENCE, whose options the
//! parser reads): the options given change, the others stay; RESTART sets the value as `setval` does, at
//! once (PostgreSQL's is transactional: a rolled-back RESTART here still restarted), and OWNED BY ties the
//! sequence to a column or, with NONE, unties it.

use datafusion::sql::sqlparser::ast::{self, DataType as SqlType, ObjectName, SequenceOptions};
use omendb_storage::SequenceDef;

use super::Session;
use crate::ddl;
use crate::error::{Error, Result, code};

impl Session {
    /// ALTER SEQUENCE `name` with the flags `alter_forms.rs` wrote (`if_exists`, `restart[=n]`,
    /// `unsupported=...`).
    pub(super) async fn alter_sequence(
        &mut self,
        flags: &str,
        name: &ObjectName,
        data_type: Option<&SqlType>,
        options: &[SequenceOptions],
        owned_by: Option<&ObjectName>,
    ) -> Result<()> {
        let flags: Vec<&str> = flags.split(',').filter(|f| !f.is_empty()).collect();
        if let Some(form) = flags.iter().find_map(|f| f.strip_prefix("unsupported=")) {
            return Err(Error::unsupported(format!("ALTER SEQUENCE ... {form}")));
        }
        let (relname, candidates) = self.candidates(name)?;
        let old = {
            let v = self.view.lock();
            let txn = v.txn.as_ref().expect("DDL runs in a transaction");
            candidates.iter().find_map(|c| txn.sequence(c))
        };
        let Some(old) = old else {
            return self.missing_relation(&relname, flags.contains(&"if_exists"));
        };
        let mut def = changed(&old, data_type, options)?;
        if let Some(o) = owned_by {
            def.owned_by = self.owner_column(o)?;
        }
        let restart = flags.iter().find_map(|f| match *f {
            "restart" => Some(Ok(def.start)),
            f => f.strip_prefix("restart=").map(|n| {
                n.parse::<i64>().map_err(|_| {
                    Error::sql(
                        code::SYNTAX_ERROR,
                        format!("RESTART value {n} is not an integer"),
                    )
                })
            }),
        });
        let restart = restart.transpose()?;
        if let Some(v) = restart {
            if v < def.min {
                return Err(Error::sql(
                    code::INVALID_PARAMETER_VALUE,
                    format!(
                        "RESTART value ({v}) cannot be less than MINVALUE ({})",
                        def.min
                    ),
                ));
            }
            if v > def.max {
                return Err(Error::sql(
                    code::INVALID_PARAMETER_VALUE,
                    format!(
                        "RESTART value ({v}) cannot be greater than MAXVALUE ({})",
                        def.max
                    ),
                ));
            }
        }
        self.with_locks(|t| t.alter_sequence(def.clone())).await?;
        if let Some(v) = restart {
            self.engine.db.setval(&def, v, false)?;
        }
        Ok(())
    }

    /// The table id and column an `OWNED BY table.column` names (`None` for `OWNED BY NONE`).
    pub(super) fn owner_column(&self, o: &ObjectName) -> Result<Option<(u64, String)>> {
        if o.to_string().eq_ignore_ascii_case("none") {
            return Ok(None);
        }
        let mut parts = o.0.clone();
        let column = match parts.pop() {
            Some(ast::ObjectNamePart::Identifier(i)) if !parts.is_empty() => ddl::ident(&i),
            _ => return Err(Error::sql(code::SYNTAX_ERROR, "invalid OWNED BY option")),
        };
        let table = self.names().lookup(&ObjectName(parts))?;
        let reader = crate::catalog::resolve(&self.engine.db, &mut self.view.lock(), &table)?
            .ok_or_else(|| Error::from(omendb_storage::Error::UnknownTable(table.clone())))?;
        ddl::column_at(reader.def(), &column)?;
        Ok(Some((reader.id(), column)))
    }
}

/// `old` with the options given changed, PostgreSQL's way: NO MINVALUE / NO MAXVALUE are the defaults of
/// the (new) type and direction, and a type change moves a bound that was the old type's default.
fn changed(
    old: &SequenceDef,
    data_type: Option<&SqlType>,
    options: &[SequenceOptions],
) -> Result<SequenceDef> {
    let mut def = old.clone();
    let int = crate::sequences::option_int;
    if let Some(t) = data_type {
        let ty = crate::sequences::sequence_type(Some(t))?;
        let (old_lo, old_hi) = crate::sequences::type_bounds(old.data_type);
        let (lo, hi) = crate::sequences::type_bounds(ty);
        if def.max == old_hi {
            def.max = hi;
        }
        if def.min == old_lo {
            def.min = lo;
        }
        def.data_type = ty;
    }
    for o in options {
        if let SequenceOptions::IncrementBy(e, _) = o {
            def.increment = int(e)?;
        }
    }
    let defaults = SequenceDef::new(def.name.clone(), def.data_type, def.increment);
    for o in options {
        match o {
            SequenceOptions::MinValue(Some(e)) => def.min = int(e)?,
            SequenceOptions::MinValue(None) => def.min = defaults.min,
            SequenceOptions::MaxValue(Some(e)) => def.max = int(e)?,
            SequenceOptions::MaxValue(None) => def.max = defaults.max,
            SequenceOptions::StartWith(e, _) => def.start = int(e)?,
            SequenceOptions::Cache(e) => def.cache = int(e)?,
            // sqlparser's flag is `NO`.
            SequenceOptions::Cycle(no) => def.cycle = !*no,
            SequenceOptions::IncrementBy(..) => {}
        }
    }
    crate::sequences::check_bounds(&def)?;
    Ok(def)
}
