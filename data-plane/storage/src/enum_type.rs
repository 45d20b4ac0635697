//! Enum types (`CREATE TYPE ... AS ENUM`): a catalog object like a view, created, altered and dropped by
//! transactional DDL. A column of an enum type stores its label as text; every write is checked against
//! the labels the writing transaction sees (see `WriteTxn`), and the SQL layer orders by declaration.

use arrow_array::{Array, StringArray};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::types::{DataType, TableShape, Value};

/// One enum type.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EnumDef {
    /// Handed out at CREATE from the ids tables get (catalog OIDs come from it); kept by ALTER TYPE.
    pub id: u64,
    /// The storage name (`s.name` outside `public`).
    pub name: String,
    /// The labels in their sort order.
    pub labels: Vec<EnumLabel>,
}

/// A label and its number, which never changes while the label exists (pg_enum's OID comes from it).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EnumLabel {
    pub name: String,
    pub number: u32,
    /// pg_enum's `enumsortorder`: 1, 2, ... at CREATE; ALTER TYPE ... ADD VALUE takes PostgreSQL's
    /// (the midpoint of its neighbours'). The labels are kept in this order.
    pub sort_order: f32,
}

impl EnumDef {
    /// A new type with `labels` in this order (the id is set at CREATE).
    pub fn new(name: String, labels: impl IntoIterator<Item = String>) -> EnumDef {
        EnumDef {
            id: 0,
            name,
            labels: labels
                .into_iter()
                .enumerate()
                .map(|(i, name)| EnumLabel {
                    name,
                    number: i as u32,
                    sort_order: i as f32 + 1.0,
                })
                .collect(),
        }
    }

    /// Where `label` sorts (from 0), if it is one of the type's.
    pub fn position(&self, label: &str) -> Option<usize> {
        self.labels.iter().position(|l| l.name == label)
    }

    /// Adds `label` at position `at` (0: first) with PostgreSQL's sort order: one past its only
    /// neighbour, or the midpoint of its two (all renumbered 1, 2, ... when there is no room between).
    pub fn insert_label(&mut self, at: usize, label: String) {
        let order = |labels: &[EnumLabel]| {
            let before = at.checked_sub(1).map(|i| labels[i].sort_order);
            let after = labels.get(at).map(|l| l.sort_order);
            match (before, after) {
                (None, None) => Some(1.0),
                (Some(b), None) => Some(b + 1.0),
                (None, Some(a)) => Some(a - 1.0),
                (Some(b), Some(a)) => {
                    let mid = b * 0.5 + a * 0.5;
                    (mid != b && mid != a).then_some(mid)
                }
            }
        };
        let sort_order = match order(&self.labels) {
            Some(o) => o,
            None => {
                for (i, l) in self.labels.iter_mut().enumerate() {
                    l.sort_order = i as f32 + 1.0;
                }
                order(&self.labels).expect("room between renumbered labels")
            }
        };
        let number = self.next_number();
        self.labels.insert(
            at,
            EnumLabel {
                name: label,
                number,
                sort_order,
            },
        );
    }

    /// The number the next added label takes.
    pub fn next_number(&self) -> u32 {
        self.labels.iter().map(|l| l.number + 1).max().unwrap_or(0)
    }
}

/// The enum types `def`'s columns have.
pub(crate) fn types_of(def: &crate::types::TableDef) -> impl Iterator<Item = u64> + '_ {
    def.columns.iter().filter_map(|c| match c.data_type {
        DataType::Enum { type_id } => Some(type_id),
        _ => None,
    })
}

/// The enum types of `shape`'s columns: (column, type id).
fn enum_columns(shape: &TableShape) -> impl Iterator<Item = (usize, u64)> + '_ {
    shape
        .def
        .columns
        .iter()
        .enumerate()
        .filter_map(|(i, c)| match c.data_type {
            DataType::Enum { type_id } => Some((i, type_id)),
            _ => None,
        })
}

/// Checks a user row's enum values against `types` (the writer's view of them).
pub(crate) fn check_row(
    shape: &TableShape,
    row: &[Value],
    types: &imbl::OrdMap<u64, std::sync::Arc<EnumDef>>,
) -> Result<()> {
    for (i, id) in enum_columns(shape) {
        if let Some(Value::Text(s)) = row.get(i) {
            check_label(types, id, s)?;
        }
    }
    Ok(())
}

/// Checks a batch's enum values (user schema) against `types`.
pub(crate) fn check_batch(
    shape: &TableShape,
    batch: &arrow_array::RecordBatch,
    types: &imbl::OrdMap<u64, std::sync::Arc<EnumDef>>,
) -> Result<()> {
    for (i, id) in enum_columns(shape) {
        let Some(strings) = batch
            .columns()
            .get(i)
            .and_then(|c| c.as_any().downcast_ref::<StringArray>())
        else {
            continue;
        };
        for j in 0..strings.len() {
            if !strings.is_null(j) {
                check_label(types, id, strings.value(j))?;
            }
        }
    }
    Ok(())
}

fn check_label(
    types: &imbl::OrdMap<u64, std::sync::Arc<EnumDef>>,
    id: u64,
    label: &str,
) -> Result<()> {
    let Some(def) = types.get(&id) else {
        return Err(Error::UnknownType(format!("enum type {id}")));
    };
    if def.position(label).is_none() {
        return Err(Error::InvalidEnum {
            type_name: def.name.clone(),
            value: label.to_string(),
        });
    }
    Ok(())
}
