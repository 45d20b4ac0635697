//! `ScanExec`: the streaming scan of a learned table, as DataFusion's `StreamingTableExec` runs it, with the
//! table's row count as its statistics (the optimizer picks join sides and build inputs from them, as it did
//! when scans were batches in memory).

use std::sync::Arc;

use datafusion::common::Statistics;
use datafusion::common::stats::Precision;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::error::Result;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::streaming::StreamingTableExec;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties, ReplaceChildrenOptions,
};

#[derive(Debug)]
pub(crate) struct ScanExec {
    inner: StreamingTableExec,
    /// Rows the scan returns: exact for a whole table, unknown for a key range.
    rows: Precision<usize>,
    /// Bytes of those rows in memory, estimated from the chunk files.
    bytes: Precision<usize>,
}

impl ScanExec {
    pub fn new(inner: StreamingTableExec, rows: Option<usize>, bytes: Option<usize>) -> ScanExec {
        ScanExec {
            inner,
            rows: rows.map_or(Precision::Absent, Precision::Exact),
            bytes: bytes.map_or(Precision::Absent, Precision::Inexact),
        }
    }
}

impl DisplayAs for ScanExec {
    fn fmt_as(&self, t: DisplayFormatType, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        self.inner.fmt_as(t, f)
    }
}

impl ExecutionPlan for ScanExec {
    fn name(&self) -> &'static str {
        "LearnedScanExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        self.inner.properties()
    }

    fn fetch(&self) -> Option<usize> {
        self.inner.fetch()
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn replace_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
        _: ReplaceChildrenOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        if children.is_empty() {
            Ok(self)
        } else {
            datafusion::common::internal_err!("a table scan has no children")
        }
    }

    #[allow(deprecated)]
    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        self.replace_children(
            children,
            ReplaceChildrenOptions::new(
                datafusion::physical_plan::ChildrenPropertiesMode::Recompute,
            ),
        )
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        self.inner.execute(partition, context)
    }

    #[allow(deprecated)]
    fn partition_statistics(&self, _partition: Option<usize>) -> Result<Arc<Statistics>> {
        let mut s = Statistics::new_unknown(&self.schema());
        s.num_rows = self.rows;
        s.total_byte_size = self.bytes;
        Ok(Arc::new(s))
    }
}
