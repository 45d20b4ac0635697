//! `avg` of smallint, integer, bigint and numeric as PostgreSQL computes it: numeric, from an exact sum,
//! rounded half away from zero, with 16 digits after the point (PostgreSQL's at least 16 significant
//! digits, for averages below 10,000; above, it prints fewer zeros, the value is the same) or the input's
//! scale if larger. DataFusion's own avg turns integers into double precision and gives numeric(p,s) four
//! more digits; it still serves every other input (double precision, real, intervals) and the window
//! frames and GROUP BY accumulators it has for them.

use std::collections::BTreeSet;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Decimal128Type, Int16Type, Int32Type, Int64Type, UInt64Type};
use arrow_array::{Array, ArrayRef, BooleanArray, Decimal128Array, UInt64Array};
use arrow_schema::{DataType, Field, FieldRef};
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, EmitTo, GroupsAccumulator, ReversedUDAF,
    Signature, TypeSignature,
};
use datafusion::prelude::SessionContext;
use datafusion::scalar::ScalarValue;

/// The scale of an average: PostgreSQL's 16 digits, or the input's own if it has more.
const MIN_SCALE: i8 = 16;

#[derive(Debug, PartialEq, Eq, Hash)]
struct PgAvg {
    inner: AggregateUDF,
    signature: Signature,
}

/// The scale an exact average of `t` keeps its sum in, if it is one (integers: 0).
fn exact_input(t: &DataType) -> Option<i8> {
    match t {
        DataType::Int16 | DataType::Int32 | DataType::Int64 => Some(0),
        DataType::Decimal128(_, s) => Some(*s),
        _ => None,
    }
}

impl PgAvg {
    fn new() -> PgAvg {
        let inner = datafusion::functions_aggregate::average::avg_udaf()
            .as_ref()
            .clone();
        // The integers first, as they are: DataFusion's own signature would make them double precision.
        let mut variants = vec![
            TypeSignature::Exact(vec![DataType::Int16]),
            TypeSignature::Exact(vec![DataType::Int32]),
            TypeSignature::Exact(vec![DataType::Int64]),
        ];
        match &inner.signature().type_signature {
            TypeSignature::OneOf(v) => variants.extend(v.iter().cloned()),
            other => variants.push(other.clone()),
        }
        let signature = Signature::one_of(variants, inner.signature().volatility);
        PgAvg { inner, signature }
    }
}

impl AggregateUDFImpl for PgAvg {
    fn name(&self) -> &str {
        "avg"
    }

    fn aliases(&self) -> &[String] {
        self.inner.aliases()
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        match exact_input(&args[0]) {
            Some(s) => Ok(DataType::Decimal128(38, s.max(MIN_SCALE))),
            None => self.inner.return_type(args),
        }
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let input = args.expr_fields[0].data_type();
        match exact_input(input) {
            Some(s) => Ok(Box::new(ExactAvg {
                input: input.clone(),
                scale: s,
                sum: 0,
                count: 0,
                distinct: args.is_distinct.then(BTreeSet::new),
            })),
            None => self.inner.accumulator(args),
        }
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        if exact_input(args.input_fields[0].data_type()).is_none() {
            return self.inner.state_fields(args);
        }
        Ok(if args.is_distinct {
            vec![Arc::new(Field::new_list(
                format_state_name(args.name, "avg distinct"),
                Field::new_list_field(DataType::Decimal128(38, 0), true),
                true,
            ))]
        } else {
            vec![
                Arc::new(Field::new(
                    format_state_name(args.name, "count"),
                    DataType::UInt64,
                    true,
                )),
                Arc::new(Field::new(
                    format_state_name(args.name, "sum"),
                    DataType::Decimal128(38, 0),
                    true,
                )),
            ]
        })
    }

    fn groups_accumulator_supported(&self, args: AccumulatorArgs) -> bool {
        match exact_input(args.expr_fields[0].data_type()) {
            Some(_) => !args.is_distinct,
            None => self.inner.groups_accumulator_supported(args),
        }
    }

    fn create_groups_accumulator(
        &self,
        args: AccumulatorArgs,
    ) -> Result<Box<dyn GroupsAccumulator>> {
        let input = args.expr_fields[0].data_type();
        match exact_input(input) {
            Some(scale) => Ok(Box::new(ExactAvgGroups {
                input: input.clone(),
                scale,
                sums: vec![],
                counts: vec![],
            })),
            None => self.inner.create_groups_accumulator(args),
        }
    }

    fn reverse_expr(&self) -> ReversedUDAF {
        ReversedUDAF::Identical
    }
}

/// The exact average: the sum of the values (unscaled, at the input's scale) and their count; with
/// DISTINCT, the distinct values instead.
#[derive(Debug)]
struct ExactAvg {
    input: DataType,
    scale: i8,
    sum: i128,
    count: u64,
    distinct: Option<BTreeSet<i128>>,
}

impl ExactAvg {
    /// The sum and count of a batch's values (NULLs left out).
    fn total(&self, a: &ArrayRef) -> Result<(i128, u64)> {
        let (mut sum, mut fits) = (0i128, true);
        each_value(a, &self.input, |_, v| match sum.checked_add(v) {
            Some(s) => sum = s,
            None => fits = false,
        })?;
        if !fits {
            return Err(overflow());
        }
        Ok((sum, (a.len() - a.null_count()) as u64))
    }
}

/// Calls `f` with each row's value, unscaled (NULLs passed over), reading integers as they are.
fn each_value(a: &ArrayRef, input: &DataType, mut f: impl FnMut(usize, i128)) -> Result<()> {
    fn each<T: arrow_array::ArrowPrimitiveType>(a: &ArrayRef, f: &mut impl FnMut(usize, i128))
    where
        T::Native: Into<i128>,
    {
        let a = a.as_primitive::<T>();
        match a.nulls() {
            None => a
                .values()
                .iter()
                .enumerate()
                .for_each(|(r, v)| f(r, (*v).into())),
            Some(n) => a
                .values()
                .iter()
                .enumerate()
                .filter(|(r, _)| n.is_valid(*r))
                .for_each(|(r, v)| f(r, (*v).into())),
        }
    }
    match input {
        DataType::Int16 => each::<Int16Type>(a, &mut f),
        DataType::Int32 => each::<Int32Type>(a, &mut f),
        DataType::Int64 => each::<Int64Type>(a, &mut f),
        _ => each::<Decimal128Type>(a, &mut f),
    }
    Ok(())
}

/// A batch of the input as unscaled 128-bit integers (a Decimal128 array of the input's scale).
fn unscaled(a: &ArrayRef, input: &DataType) -> Result<ArrayRef> {
    Ok(match input {
        DataType::Decimal128(..) => a.clone(),
        _ => arrow_cast::cast(a, &DataType::Decimal128(38, 0))?,
    })
}

fn overflow() -> DataFusionError {
    DataFusionError::External(Box::new(crate::error::Error::sql(
        "22003",
        "numeric field overflow",
    )))
}

/// The average of `count` values summing to `sum` at `scale`, at its own scale (`None` for no values).
fn average(sum: i128, count: u64, scale: i8) -> Result<Option<i128>> {
    if count == 0 {
        return Ok(None);
    }
    divide(sum, count, (scale.max(MIN_SCALE) - scale) as u32).map(Some)
}

/// `sum / count` at `k` more digits of scale, rounded half away from zero.
fn divide(sum: i128, count: u64, k: u32) -> Result<i128> {
    let count = i128::from(count);
    let (q, r) = (sum.abs() / count, sum.abs() % count);
    let ten = 10i128.pow(k);
    let frac = r * ten;
    let (mut f, rest) = (frac / count, frac % count);
    if rest * 2 >= count {
        f += 1;
    }
    let v = q
        .checked_mul(ten)
        .and_then(|v| v.checked_add(f))
        .ok_or_else(overflow)?;
    Ok(if sum < 0 { -v } else { v })
}

impl Accumulator for ExactAvg {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        if let Some(set) = &mut self.distinct {
            let a = unscaled(&values[0], &self.input)?;
            set.extend(a.as_primitive::<Decimal128Type>().iter().flatten());
            return Ok(());
        }
        let (sum, count) = self.total(&values[0])?;
        self.sum = self.sum.checked_add(sum).ok_or_else(overflow)?;
        self.count += count;
        Ok(())
    }

    fn retract_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let (sum, count) = self.total(&values[0])?;
        self.sum = self.sum.checked_sub(sum).ok_or_else(overflow)?;
        self.count -= count;
        Ok(())
    }

    fn supports_retract_batch(&self) -> bool {
        self.distinct.is_none()
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let (sum, count) = match &self.distinct {
            Some(set) => {
                let mut sum: i128 = 0;
                for v in set {
                    sum = sum.checked_add(*v).ok_or_else(overflow)?;
                }
                (sum, set.len() as u64)
            }
            None => (self.sum, self.count),
        };
        let scale = self.scale.max(MIN_SCALE);
        let value = average(sum, count, self.scale)?;
        Ok(ScalarValue::Decimal128(value, 38, scale))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) + self.distinct.as_ref().map_or(0, |s| s.len() * 16)
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(match &self.distinct {
            Some(set) => {
                let values: Vec<ScalarValue> = set
                    .iter()
                    .map(|v| ScalarValue::Decimal128(Some(*v), 38, 0))
                    .collect();
                vec![ScalarValue::List(ScalarValue::new_list_nullable(
                    &values,
                    &DataType::Decimal128(38, 0),
                ))]
            }
            None => vec![
                ScalarValue::UInt64(Some(self.count)),
                ScalarValue::Decimal128(Some(self.sum), 38, 0),
            ],
        })
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        match &mut self.distinct {
            Some(set) => {
                let lists = states[0].as_list::<i32>();
                for list in lists.iter().flatten() {
                    set.extend(list.as_primitive::<Decimal128Type>().iter().flatten());
                }
            }
            None => {
                let counts = states[0].as_primitive::<UInt64Type>();
                let sums = states[1].as_primitive::<Decimal128Type>();
                for i in 0..counts.len() {
                    if counts.is_null(i) {
                        continue;
                    }
                    self.count += counts.value(i);
                    if !sums.is_null(i) {
                        self.sum = self.sum.checked_add(sums.value(i)).ok_or_else(overflow)?;
                    }
                }
            }
        }
        Ok(())
    }
}

/// [`ExactAvg`] for every group of a GROUP BY at once.
#[derive(Debug)]
struct ExactAvgGroups {
    input: DataType,
    scale: i8,
    sums: Vec<i128>,
    counts: Vec<u64>,
}

impl ExactAvgGroups {
    /// Adds `values` (unscaled sums, of `counts` values each; one for an input row) to their groups.
    fn add(
        &mut self,
        values: &Decimal128Array,
        counts: Option<&UInt64Array>,
        groups: &[usize],
        filter: Option<&BooleanArray>,
        total: usize,
    ) -> Result<()> {
        self.grow(total);
        for (row, &g) in groups.iter().enumerate() {
            if values.is_null(row) || !crate::sum::kept(filter, row) {
                continue;
            }
            self.sums[g] = self.sums[g]
                .checked_add(values.value(row))
                .ok_or_else(overflow)?;
            self.counts[g] += counts.map_or(1, |c| c.value(row));
        }
        Ok(())
    }

    fn grow(&mut self, total: usize) {
        self.sums.resize(total, 0);
        self.counts.resize(total, 0);
    }

    /// The sums and counts of the groups `emit_to` names, taken out.
    fn take(&mut self, emit_to: EmitTo) -> (Vec<i128>, Vec<u64>) {
        (
            emit_to.take_needed(&mut self.sums),
            emit_to.take_needed(&mut self.counts),
        )
    }
}

impl GroupsAccumulator for ExactAvgGroups {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        groups: &[usize],
        filter: Option<&BooleanArray>,
        total: usize,
    ) -> Result<()> {
        self.grow(total);
        let (sums, counts, mut fits) = (&mut self.sums, &mut self.counts, true);
        each_value(&values[0], &self.input, |row, v| {
            if crate::sum::kept(filter, row) {
                let g = groups[row];
                match sums[g].checked_add(v) {
                    Some(s) => sums[g] = s,
                    None => fits = false,
                }
                counts[g] += 1;
            }
        })?;
        if fits { Ok(()) } else { Err(overflow()) }
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        let (sums, counts) = self.take(emit_to);
        let values = sums
            .into_iter()
            .zip(counts)
            .map(|(s, c)| average(s, c, self.scale))
            .collect::<Result<Decimal128Array>>()?;
        Ok(Arc::new(
            values.with_precision_and_scale(38, self.scale.max(MIN_SCALE))?,
        ))
    }

    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        let (sums, counts) = self.take(emit_to);
        Ok(vec![
            Arc::new(UInt64Array::from(counts)),
            Arc::new(Decimal128Array::from(sums).with_precision_and_scale(38, 0)?),
        ])
    }

    fn merge_batch(&mut self, values: &[ArrayRef], groups: &[usize], total: usize) -> Result<()> {
        let counts = values[0].as_primitive::<UInt64Type>();
        let sums = values[1].as_primitive::<Decimal128Type>();
        self.add(sums, Some(counts), groups, None, total)
    }

    /// Each input row as a group's state of its own (one value, or none if NULL or filtered out).
    fn convert_to_state(
        &self,
        values: &[ArrayRef],
        filter: Option<&BooleanArray>,
    ) -> Result<Vec<ArrayRef>> {
        let a = unscaled(&values[0], &self.input)?;
        let a = a.as_primitive::<Decimal128Type>();
        let kept = |row: usize| a.is_valid(row) && crate::sum::kept(filter, row);
        let counts: UInt64Array = (0..a.len()).map(|r| Some(u64::from(kept(r)))).collect();
        let sums: Decimal128Array = (0..a.len())
            .map(|r| Some(if kept(r) { a.value(r) } else { 0 }))
            .collect();
        Ok(vec![
            Arc::new(counts),
            Arc::new(sums.with_precision_and_scale(38, 0)?),
        ])
    }

    fn size(&self) -> usize {
        self.sums.capacity() * 16 + self.counts.capacity() * 8
    }
}

/// Registers PostgreSQL's avg in place of DataFusion's.
pub fn register(ctx: &SessionContext) {
    ctx.register_udaf(AggregateUDF::new_from_impl(PgAvg::new()));
}

#[cfg(test)]
mod tests {
    use super::divide;

    #[test]
    fn averages_round_half_away_from_zero_at_any_size() {
        assert_eq!(divide(3, 2, 16).unwrap(), 15_000_000_000_000_000);
        assert_eq!(divide(5, 3, 2).unwrap(), 167);
        assert_eq!(divide(-5, 3, 2).unwrap(), -167);
        assert_eq!(divide(-3, 2, 0).unwrap(), -2);
        // A sum far past what sum * 10^16 could hold.
        let big = i128::from(i64::MAX) * 1_000_000;
        assert_eq!(
            divide(big, 1_000_000, 16).unwrap(),
            i128::from(i64::MAX) * 10i128.pow(16)
        );
        assert!(divide(i128::MAX / 2, 1, 16).is_err());
    }
}
