//! `LearnedTable`: the DataFusion table provider over one learned-array table.

use std::ops::Bound;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use async_trait::async_trait;
use datafusion::catalog::{Session, TableProvider};
use datafusion::datasource::TableType;
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::datasource::source::DataSourceExec;
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::physical_expr::expressions::Column;
use datafusion::physical_expr::{LexOrdering, PhysicalSortExpr};
use datafusion::physical_plan::ExecutionPlan;
use std::collections::HashMap;

use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::streaming::{PartitionStream, StreamingTableExec};
use omendb_storage::{Database, KeyKind, KeyRange, TableReader, Value};

use crate::pushdown::{KeyPlan, comparison, equality, intersect, plan_filter};
use crate::scan_exec::ScanExec;

/// How scans were answered, for tests and metrics: the learned index must serve every primary-key query.
#[derive(Debug, Default)]
pub struct ScanCounters {
    /// Scans answered by point probes (`=`, `IN`, OR of `=`).
    pub point: AtomicU64,
    /// Scans answered by one key range.
    pub range: AtomicU64,
    /// Scans that read the whole table.
    pub full: AtomicU64,
    /// Keys probed by point scans.
    pub keys_probed: AtomicU64,
    /// Scans answered through a secondary index.
    pub index: AtomicU64,
}

/// Where a table's rows come from at scan time.
#[derive(Clone)]
enum Source {
    /// The newest committed version when the scan starts.
    Live(Arc<Database>),
    /// One fixed view: a statement's snapshot or a transaction's own writes over its snapshot.
    Fixed(TableReader),
}

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Source::Live(_) => "Live",
            Source::Fixed(_) => "Fixed",
        })
    }
}

#[derive(Debug)]
pub struct LearnedTable {
    source: Source,
    name: String,
    schema: SchemaRef,
    /// Scans include the hidden row id of tables without a primary key (UPDATE and DELETE need it).
    physical: bool,
    defaults: HashMap<String, Expr>,
    /// Primary-key column and its key kind; `None` for tables keyed by a hidden row id.
    pk: Option<(String, KeyKind)>,
    /// Every scan returns rows in primary-key order: declared so `ORDER BY pk` needs no sort.
    ordering: Option<LexOrdering>,
    counters: Arc<ScanCounters>,
    /// Off: no filter is answered through the learned index (every scan is a full scan).
    index: bool,
    /// Secondary indexes: name and indexed column names, in index order.
    secondary: Vec<(String, Vec<String>)>,
}

fn external(e: omendb_storage::Error) -> DataFusionError {
    DataFusionError::External(Box::new(e))
}

impl LearnedTable {
    /// The storage name of the table this provider reads.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A table that reads the newest committed version at every scan.
    pub fn new(db: Arc<Database>, name: &str) -> omendb_storage::Result<LearnedTable> {
        let reader = db.table(name)?;
        Ok(Self::build(Source::Live(db), &reader, false))
    }

    /// A table over one fixed view (a snapshot, or a transaction's writes over its snapshot). With
    /// `physical`, tables without a primary key expose their hidden row id column.
    pub fn from_reader(reader: TableReader, physical: bool) -> LearnedTable {
        Self::build(Source::Fixed(reader.clone()), &reader, physical)
    }

    /// DEFAULT expressions by column name, used by INSERT for columns it does not name.
    pub fn with_defaults(mut self, defaults: HashMap<String, Expr>) -> Self {
        self.defaults = defaults;
        self
    }

    fn build(source: Source, reader: &TableReader, physical: bool) -> LearnedTable {
        let def = reader.def();
        let name = def.name.clone();
        let pk = def.primary_key.map(|i| {
            let col = &def.columns[i];
            (
                col.name.clone(),
                col.data_type.key_kind().unwrap_or(KeyKind::Int),
            )
        });
        let ordering = def.primary_key.and_then(|i| {
            LexOrdering::new([PhysicalSortExpr::new_default(Arc::new(Column::new(
                &def.columns[i].name,
                i,
            )))])
        });
        let physical = physical && def.primary_key.is_none();
        LearnedTable {
            schema: if physical {
                reader.physical_schema()
            } else {
                reader.schema()
            },
            source,
            name,
            physical,
            defaults: HashMap::new(),
            pk,
            ordering,
            counters: Arc::default(),
            index: true,
            // A partial index holds only some rows: lookups go through full indexes only.
            secondary: reader
                .indexes()
                .iter()
                .filter(|i| i.plain())
                .map(|i| {
                    let columns = i.columns.iter().map(|&c| def.columns[c].name.clone());
                    (i.name.clone(), columns.collect())
                })
                .collect(),
        }
    }

    /// The table with its learned index unused: filters are left to DataFusion over a full scan. For
    /// measuring what the index buys through SQL.
    pub fn without_index(mut self) -> Self {
        self.index = false;
        self
    }

    pub fn counters(&self) -> &Arc<ScanCounters> {
        &self.counters
    }

    fn plan(&self, filter: &Expr) -> Option<KeyPlan> {
        let (pk, kind) = self.pk.as_ref()?;
        plan_filter(filter, pk, *kind)
    }

    /// Whether a secondary index leads with the column `filter` binds by equality or bounds.
    fn indexed(&self, filter: &Expr) -> bool {
        let column = equality(filter)
            .map(|(c, _)| c)
            .or_else(|| comparison(filter).map(|(c, ..)| c));
        column.is_some_and(|c| self.secondary.iter().any(|(_, cols)| cols[0] == c))
    }

    /// A secondary index leading with a column `filters` bound from below and/or above, and the bounds
    /// (the first of each kind found: DataFusion re-applies every filter).
    fn index_range(&self, filters: &[Expr]) -> Option<(&str, Bound<Value>, Bound<Value>)> {
        let (name, cols) = self.secondary.iter().find(|(_, cols)| {
            filters
                .iter()
                .any(|f| comparison(f).is_some_and(|(c, ..)| c == cols[0]))
        })?;
        let (mut lo, mut hi) = (Bound::Unbounded, Bound::Unbounded);
        for (c, l, h) in filters.iter().filter_map(comparison) {
            if c != cols[0] {
                continue;
            }
            if matches!(lo, Bound::Unbounded) {
                lo = l;
            }
            if matches!(hi, Bound::Unbounded) {
                hi = h;
            }
        }
        Some((name.as_str(), lo, hi))
    }

    /// The secondary index that binds the most leading columns through `filters`' equalities, and the
    /// value prefixes to look up (every combination of the bound columns' values).
    fn index_plan(&self, filters: &[Expr]) -> Option<(&str, Vec<Vec<Value>>)> {
        let bound: HashMap<&str, Vec<Value>> = filters.iter().filter_map(equality).collect();
        let (name, cols) = self.secondary.iter().max_by_key(|(_, cols)| {
            cols.iter()
                .take_while(|c| bound.contains_key(c.as_str()))
                .count()
        })?;
        let mut prefixes: Vec<Vec<Value>> = vec![vec![]];
        for c in cols {
            let Some(values) = bound.get(c.as_str()) else {
                break;
            };
            if prefixes.len() * values.len() > 1024 {
                break;
            }
            prefixes = prefixes
                .iter()
                .flat_map(|p| {
                    values.iter().map(move |v| {
                        let mut p = p.clone();
                        p.push(v.clone());
                        p
                    })
                })
                .collect();
        }
        (!prefixes[0].is_empty()).then_some((name.as_str(), prefixes))
    }
}

#[async_trait]
impl TableProvider for LearnedTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn get_column_default(&self, column: &str) -> Option<&Expr> {
        self.defaults.get(column)
    }

    /// Primary-key predicates are answered exactly by the learned index; DataFusion evaluates the rest.
    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        Ok(filters
            .iter()
            .map(|f| {
                if self.index && self.plan(f).is_some() {
                    TableProviderFilterPushDown::Exact
                } else if self.index && !self.physical && self.indexed(f) {
                    // The index finds the candidate rows; DataFusion applies the filter again.
                    TableProviderFilterPushDown::Inexact
                } else {
                    TableProviderFilterPushDown::Unsupported
                }
            })
            .collect())
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let reader = match &self.source {
            Source::Live(db) => db.table(&self.name).map_err(external)?,
            Source::Fixed(r) => r.clone(),
        };
        // Only filters we declared Exact arrive here, so the plan answers all of them and LIMIT is safe.
        let plan = filters
            .iter()
            .filter_map(|f| self.plan(f))
            .fold(KeyPlan::Full, intersect);
        let through_index = match (&plan, self.index && !self.physical) {
            (KeyPlan::Full, true) => match self.index_plan(filters) {
                Some((name, prefixes)) => reader.index_lookup(name, &prefixes).map_err(external)?,
                None => match self.index_range(filters) {
                    Some((name, lo, hi)) => reader
                        .index_range(name, lo.as_ref(), hi.as_ref())
                        .map_err(external)?,
                    None => None,
                },
            },
            _ => None,
        };
        let range = match plan {
            KeyPlan::Full if through_index.is_some() => {
                self.counters.index.fetch_add(1, Ordering::Relaxed);
                // Inexact filters: DataFusion re-applies them, and gives no LIMIT here.
                let batches: Vec<RecordBatch> = through_index
                    .into_iter()
                    .filter(|b| b.num_rows() > 0)
                    .collect();
                return self.memory(batches, projection);
            }
            KeyPlan::Points(keys) => {
                self.counters.point.fetch_add(1, Ordering::Relaxed);
                self.counters
                    .keys_probed
                    .fetch_add(keys.len() as u64, Ordering::Relaxed);
                let found = reader.get_batch(&keys).map_err(external)?;
                let n = limit.map_or(found.num_rows(), |l| l.min(found.num_rows()));
                let batches = if n == 0 {
                    vec![]
                } else {
                    vec![found.slice(0, n)]
                };
                return self.memory(batches, projection);
            }
            KeyPlan::Range(range) => {
                self.counters.range.fetch_add(1, Ordering::Relaxed);
                range
            }
            KeyPlan::Full => {
                self.counters.full.fetch_add(1, Ordering::Relaxed);
                KeyRange::all()
            }
        };
        // Ranges and full scans stream: pages are read as DataFusion pulls batches, only the columns the
        // query uses. One partition: rows come in key order, as a query without ORDER BY has always
        // seen them (several partitions would interleave them); DataFusion spreads the work after it.
        let columns: Vec<usize> = match projection {
            Some(p) => p.clone(),
            None => (0..self.schema.fields().len()).collect(),
        };
        // Checks the range and records it as read (a serializable transaction's read set) now.
        let schema = reader
            .scan_columns(range.clone(), &columns)
            .map_err(external)?
            .schema();
        let partitions: Vec<Arc<dyn PartitionStream>> = vec![Arc::new(ScanPartition {
            reader: reader.clone(),
            range: range.clone(),
            columns: columns.clone(),
            schema: schema.clone(),
        })];
        let ordering = self.ordering.as_ref().and_then(|_| {
            // The key's place among the columns read, if it is read.
            let pk = self.pk.as_ref()?;
            let at = columns
                .iter()
                .position(|&c| self.schema.field(c).name() == &pk.0)?;
            LexOrdering::new([PhysicalSortExpr::new_default(Arc::new(Column::new(
                &pk.0, at,
            )))])
        });
        let exec = StreamingTableExec::try_new(schema, partitions, None, ordering, false, limit)?;
        // A whole table's rows are known exactly; its bytes are estimated from its columns' widths.
        let rows = (range == KeyRange::all()).then(|| reader.len() as usize);
        let bytes = rows.map(|n| {
            let width: usize = columns
                .iter()
                .map(|&c| {
                    self.schema
                        .field(c)
                        .data_type()
                        .primitive_width()
                        .unwrap_or(16)
                })
                .sum();
            n * width.max(1)
        });
        Ok(Arc::new(ScanExec::new(exec, rows, bytes)))
    }
}

impl LearnedTable {
    /// A plan over batches already in hand (point and secondary-index lookups: a few rows).
    fn memory(
        &self,
        batches: Vec<RecordBatch>,
        projection: Option<&Vec<usize>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let mut source =
            MemorySourceConfig::try_new(&[batches], self.schema.clone(), projection.cloned())?;
        if let Some(o) = &self.ordering {
            source = source.try_with_sort_information(vec![o.clone()])?;
        }
        Ok(DataSourceExec::from_data_source(source))
    }
}

/// One partition of a streaming scan: every `execute` scans the range afresh over the same reader (the
/// statement's view), so a plan run twice reads the same rows twice.
struct ScanPartition {
    reader: TableReader,
    range: KeyRange,
    columns: Vec<usize>,
    schema: SchemaRef,
}

impl std::fmt::Debug for ScanPartition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ScanPartition")
    }
}

impl PartitionStream for ScanPartition {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    fn execute(&self, _ctx: Arc<TaskContext>) -> SendableRecordBatchStream {
        let batches: Box<dyn Iterator<Item = Result<RecordBatch>> + Send> =
            match self.reader.scan_columns(self.range.clone(), &self.columns) {
                Ok(scan) => Box::new(scan.map(|b| b.map_err(external))),
                Err(e) => Box::new(std::iter::once(Err(external(e)))),
            };
        Box::pin(RecordBatchStreamAdapter::new(
            self.schema.clone(),
            futures::stream::iter(batches),
        ))
    }
}
