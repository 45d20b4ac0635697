//! Views: a catalog object like a sequence, created and dropped by transactional DDL, in the relations'
//! namespace. The engine keeps the definition; the SQL layer plans the query wherever the view is named.

use serde::{Deserialize, Serialize};

use crate::types::ColumnDef;

/// CREATE VIEW's definition.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ViewDef {
    /// Handed out at CREATE from the ids tables get (catalog OIDs come from it); kept by OR REPLACE.
    pub id: u64,
    /// The storage name (`s.name` outside `public`).
    pub name: String,
    /// The query as SQL text, its relations named as they were resolved at CREATE.
    pub query: String,
    /// The output columns: names and types.
    pub columns: Vec<ColumnDef>,
    /// The tables and views it reads (ids): dropping one of them needs CASCADE.
    pub depends: Vec<u64>,
}
