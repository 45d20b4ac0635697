//! `sum` typed as PostgreSQL types it: of smallint and integer, bigint; of bigint, numeric (a sum of
//! bigints can pass bigint's range, and clients read the result as a decimal); of numeric, numeric; of
//! real and double precision, double precision (PostgreSQL's of real is real). DataFusion's sum does the
//! adding: a bigint argument is read as numeric(20, 0), whose sum DataFusion keeps exactly in 128 bits.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Decimal128Type, Int64Type};
use arrow_array::{Array, ArrayRef, BooleanArray, Decimal128Array};
use arrow_schema::DataType;
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, EmitTo, GroupsAccumulator, ReversedUDAF,
    Signature, Volatility,
};
use datafusion::prelude::SessionContext;
use datafusion::scalar::ScalarValue;

/// The numeric a bigint is read as: its 19 digits and a sign's worth of room.
const BIGINT_AS_NUMERIC: DataType = DataType::Decimal128(20, 0);

#[derive(Debug, PartialEq, Eq, Hash)]
struct PgSum {
    inner: AggregateUDF,
    signature: Signature,
}

impl PgSum {
    fn new() -> PgSum {
        PgSum {
            inner: datafusion::functions_aggregate::sum::sum_udaf()
                .as_ref()
                .clone(),
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

/// The types `sum` takes, as they are (an argument cast to bigint would be mistaken for a bigint one).
fn argument_type(t: &DataType) -> Result<DataType> {
    use DataType as T;
    Ok(match t {
        T::Null => T::Int64,
        T::UInt8 | T::UInt16 | T::UInt32 | T::UInt64 => T::UInt64,
        T::Float16 | T::Float32 | T::Float64 => T::Float64,
        T::Int8
        | T::Int16
        | T::Int32
        | T::Int64
        | T::Decimal32(..)
        | T::Decimal64(..)
        | T::Decimal128(..)
        | T::Decimal256(..)
        | T::Interval(_)
        | T::Duration(_) => t.clone(),
        T::Dictionary(_, v) => argument_type(v)?,
        other => {
            return Err(DataFusionError::External(Box::new(
                crate::error::Error::sql(
                    crate::error::code::UNDEFINED_FUNCTION,
                    format!("function sum({}) does not exist", shown(other)),
                ),
            )));
        }
    })
}

/// The type DataFusion's sum adds an argument of type `t` in: bigint for the smaller integers, numeric
/// for bigint.
fn adds_in(t: &DataType) -> DataType {
    match t {
        DataType::Int8 | DataType::Int16 | DataType::Int32 => DataType::Int64,
        DataType::Int64 => BIGINT_AS_NUMERIC,
        t => t.clone(),
    }
}

/// A type as PostgreSQL's error names it.
fn shown(t: &DataType) -> String {
    let arrow = t.to_string();
    match crate::error::postgres_type_name(&arrow) {
        Some(name) => name.into(),
        None => arrow.to_lowercase(),
    }
}

impl AggregateUDFImpl for PgSum {
    fn name(&self) -> &str {
        "sum"
    }

    fn aliases(&self) -> &[String] {
        self.inner.aliases()
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, args: &[DataType]) -> Result<Vec<DataType>> {
        match args {
            [t] => Ok(vec![argument_type(t)?]),
            _ => Err(DataFusionError::Plan(format!(
                "sum takes one argument, not {}",
                args.len()
            ))),
        }
    }

    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        self.inner.return_type(&[adds_in(&args[0])])
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        self.one_accumulator(args, |inner, args| inner.accumulator(args))
    }

    fn create_sliding_accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        // BigintSum retracts, so it serves window frames too.
        self.one_accumulator(args, |inner, args| {
            inner.inner().create_sliding_accumulator(args)
        })
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<arrow_schema::FieldRef>> {
        // The states hold sums, of the return type already.
        self.inner.state_fields(args)
    }

    fn groups_accumulator_supported(&self, args: AccumulatorArgs) -> bool {
        self.inner.groups_accumulator_supported(args)
    }

    fn create_groups_accumulator(
        &self,
        args: AccumulatorArgs,
    ) -> Result<Box<dyn GroupsAccumulator>> {
        if let Some(precision) = bigint_sum(&args) {
            return Ok(Box::new(BigintSums {
                precision,
                sums: vec![],
                seen: vec![],
            }));
        }
        self.with_cast(
            args,
            |inner, args| inner.create_groups_accumulator(args),
            |a, to| Box::new(CastInGroups { inner: a, to }) as Box<dyn GroupsAccumulator>,
        )
    }

    fn reverse_expr(&self) -> ReversedUDAF {
        ReversedUDAF::Identical
    }

    fn order_sensitivity(&self) -> datafusion::logical_expr::utils::AggregateOrderSensitivity {
        self.inner.inner().order_sensitivity()
    }
}

impl PgSum {
    /// A bigint sum's own accumulator, or DataFusion's (`make`) fed values cast to the type it adds in.
    fn one_accumulator(
        &self,
        args: AccumulatorArgs,
        make: impl FnOnce(&AggregateUDF, AccumulatorArgs) -> Result<Box<dyn Accumulator>>,
    ) -> Result<Box<dyn Accumulator>> {
        if let Some(precision) = bigint_sum(&args) {
            return Ok(Box::new(BigintSum {
                precision,
                ..Default::default()
            }));
        }
        self.with_cast(args, make, |a, to| Box::new(CastIn { inner: a, to }))
    }

    /// DataFusion's accumulator (`make`) for the type it adds this argument in, fed values cast to it
    /// (`wrap`) where that is not the argument's own.
    fn with_cast<T>(
        &self,
        args: AccumulatorArgs,
        make: impl FnOnce(&AggregateUDF, AccumulatorArgs) -> Result<T>,
        wrap: impl FnOnce(T, DataType) -> T,
    ) -> Result<T> {
        let input = args.expr_fields[0].data_type().clone();
        let to = adds_in(&input);
        if to == input {
            return make(&self.inner, args);
        }
        let fields = [Arc::new(
            args.expr_fields[0]
                .as_ref()
                .clone()
                .with_data_type(to.clone()),
        )];
        let cast_args = AccumulatorArgs {
            expr_fields: &fields,
            ..args
        };
        Ok(wrap(make(&self.inner, cast_args)?, to))
    }
}

/// The precision of the sum, if this is a sum of bigints that [`BigintSum`] adds (not DISTINCT).
fn bigint_sum(args: &AccumulatorArgs) -> Option<u8> {
    match (
        args.expr_fields[0].data_type(),
        args.return_field.data_type(),
    ) {
        (DataType::Int64, DataType::Decimal128(p, 0)) if !args.is_distinct => Some(*p),
        _ => None,
    }
}

/// A sum of bigints, exact in 128 bits and read as they are: DataFusion's numeric sum would need each
/// value cast to numeric first, which made `sum(bigint)` four times slower. Its state is DataFusion's (the
/// sum, NULL over no values).
#[derive(Debug, Default)]
struct BigintSum {
    precision: u8,
    sum: i128,
    seen: u64,
}

impl BigintSum {
    fn add(&mut self, a: &ArrayRef, sign: i128) {
        let a = a.as_primitive::<Int64Type>();
        for v in a.iter().flatten() {
            self.sum += sign * i128::from(v);
        }
        let n = (a.len() - a.null_count()) as u64;
        if sign > 0 {
            self.seen += n;
        } else {
            self.seen -= n;
        }
    }
}

impl Accumulator for BigintSum {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.add(&values[0], 1);
        Ok(())
    }

    fn retract_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.add(&values[0], -1);
        Ok(())
    }

    fn supports_retract_batch(&self) -> bool {
        true
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        for v in states[0].as_primitive::<Decimal128Type>().iter().flatten() {
            self.sum += v;
            self.seen += 1;
        }
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        Ok(ScalarValue::Decimal128(
            (self.seen > 0).then_some(self.sum),
            self.precision,
            0,
        ))
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![self.evaluate()?])
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self)
    }
}

/// [`BigintSum`] for every group of a GROUP BY.
struct BigintSums {
    precision: u8,
    sums: Vec<i128>,
    /// Values added per group (a group of NULLs only sums to NULL).
    seen: Vec<u64>,
}

impl BigintSums {
    fn array(&self, sums: Vec<i128>, seen: Vec<u64>) -> Result<ArrayRef> {
        let a: Decimal128Array = sums
            .into_iter()
            .zip(seen)
            .map(|(s, n)| (n > 0).then_some(s))
            .collect();
        Ok(Arc::new(a.with_precision_and_scale(self.precision, 0)?))
    }

    fn grow(&mut self, total: usize) {
        self.sums.resize(total, 0);
        self.seen.resize(total, 0);
    }
}

/// Whether row `r` passes a FILTER clause.
pub(crate) fn kept(filter: Option<&BooleanArray>, r: usize) -> bool {
    filter.is_none_or(|f| f.is_valid(r) && f.value(r))
}

impl GroupsAccumulator for BigintSums {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        groups: &[usize],
        filter: Option<&BooleanArray>,
        total: usize,
    ) -> Result<()> {
        self.grow(total);
        let a = values[0].as_primitive::<Int64Type>();
        for (r, &g) in groups.iter().enumerate() {
            if a.is_valid(r) && kept(filter, r) {
                self.sums[g] += i128::from(a.value(r));
                self.seen[g] += 1;
            }
        }
        Ok(())
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        let sums = emit_to.take_needed(&mut self.sums);
        let seen = emit_to.take_needed(&mut self.seen);
        self.array(sums, seen)
    }

    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        Ok(vec![self.evaluate(emit_to)?])
    }

    fn merge_batch(&mut self, values: &[ArrayRef], groups: &[usize], total: usize) -> Result<()> {
        self.grow(total);
        let a = values[0].as_primitive::<Decimal128Type>();
        for (r, &g) in groups.iter().enumerate() {
            if a.is_valid(r) {
                self.sums[g] += a.value(r);
                self.seen[g] += 1;
            }
        }
        Ok(())
    }

    fn convert_to_state(
        &self,
        values: &[ArrayRef],
        filter: Option<&BooleanArray>,
    ) -> Result<Vec<ArrayRef>> {
        let a = values[0].as_primitive::<Int64Type>();
        let sums: Decimal128Array = (0..a.len())
            .map(|r| (a.is_valid(r) && kept(filter, r)).then(|| i128::from(a.value(r))))
            .collect();
        Ok(vec![Arc::new(
            sums.with_precision_and_scale(self.precision, 0)?,
        )])
    }

    fn size(&self) -> usize {
        self.sums.capacity() * 16 + self.seen.capacity() * 8
    }
}

/// An accumulator fed its argument cast to the type it adds in.
#[derive(Debug)]
struct CastIn {
    inner: Box<dyn Accumulator>,
    to: DataType,
}

impl Accumulator for CastIn {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.inner.update_batch(&[cast(&values[0], &self.to)?])
    }

    fn retract_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.inner.retract_batch(&[cast(&values[0], &self.to)?])
    }

    fn supports_retract_batch(&self) -> bool {
        self.inner.supports_retract_batch()
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        self.inner.merge_batch(states)
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        self.inner.evaluate()
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        self.inner.state()
    }

    fn size(&self) -> usize {
        self.inner.size()
    }
}

/// [`CastIn`] for a GROUP BY's accumulator.
struct CastInGroups {
    inner: Box<dyn GroupsAccumulator>,
    to: DataType,
}

impl GroupsAccumulator for CastInGroups {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        groups: &[usize],
        filter: Option<&BooleanArray>,
        total: usize,
    ) -> Result<()> {
        self.inner
            .update_batch(&[cast(&values[0], &self.to)?], groups, filter, total)
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        self.inner.evaluate(emit_to)
    }

    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        self.inner.state(emit_to)
    }

    fn merge_batch(&mut self, values: &[ArrayRef], groups: &[usize], total: usize) -> Result<()> {
        self.inner.merge_batch(values, groups, total)
    }

    fn convert_to_state(
        &self,
        values: &[ArrayRef],
        filter: Option<&BooleanArray>,
    ) -> Result<Vec<ArrayRef>> {
        self.inner
            .convert_to_state(&[cast(&values[0], &self.to)?], filter)
    }

    fn size(&self) -> usize {
        self.inner.size()
    }
}

fn cast(a: &ArrayRef, to: &DataType) -> Result<ArrayRef> {
    Ok(arrow_cast::cast(a, to)?)
}

/// Registers PostgreSQL's sum in place of DataFusion's, and `variance`, PostgreSQL's name for the sample
/// variance (computed in double precision: PostgreSQL's of integers and numeric is numeric).
pub fn register(ctx: &SessionContext) {
    ctx.register_udaf(AggregateUDF::new_from_impl(PgSum::new()));
    ctx.register_udaf(
        datafusion::functions_aggregate::variance::var_samp_udaf()
            .as_ref()
            .clone()
            .with_aliases(["variance"]),
    );
}
