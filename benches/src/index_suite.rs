//! Learned index vs peers: random point lookups over keys held in memory, side by side in one run.
//!
//! For each size and distribution: our `PgmIndex::find` (epsilon 16, 32, 64), `slice::binary_search`,
//! `BTreeMap::get`, redb `get` through a read transaction on a fully cached table (skipped at 100M), and
//! `jdb_pgm` (epsilon 16, whose answers are checked against ours). Queries are keys drawn at random from
//! the data, generated before timing; each structure runs the same queries `reps` times and the median
//! ns per lookup is reported. Big structures are dropped before the next one is built.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::Instant;

use anyhow::Context as _;
use omendb_learned::PgmIndex;
use omendb_learned::datasets::{Distribution, sample_hits};
use redb::{Database, Durability, ReadableDatabase as _, TableDefinition};

use crate::report::{Report, Table};

const REDB_TABLE: TableDefinition<u64, u64> = TableDefinition::new("keys");
/// redb is skipped above this size (its build alone would take minutes).
const REDB_MAX_KEYS: usize = 10_000_000;

struct Plan {
    sizes: Vec<usize>,
    distributions: Vec<Distribution>,
    queries: usize,
    reps: usize,
}

/// How much of the suite to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Size {
    /// Seconds, for `scripts/test`: proves the harness runs and every structure answers; figures mean nothing.
    Smoke,
    Quick,
    Full,
}

pub fn run(report: &mut Report, size: Size) -> anyhow::Result<()> {
    let plan = if size == Size::Smoke {
        Plan {
            sizes: vec![100_000],
            distributions: vec![Distribution::Lognormal],
            queries: 100_000,
            reps: 1,
        }
    } else if size == Size::Quick {
        Plan {
            sizes: vec![1_000_000, 10_000_000],
            distributions: vec![Distribution::Lognormal, Distribution::TimestampsBursty],
            queries: 1_000_000,
            reps: 3,
        }
    } else {
        Plan {
            sizes: vec![1_000_000, 10_000_000, 100_000_000],
            distributions: vec![
                Distribution::UniformSparse,
                Distribution::Lognormal,
                Distribution::TimestampsBursty,
                Distribution::Clustered,
            ],
            queries: 2_000_000,
            reps: 5,
        }
    };
    let mut lookups = Table::new(
        format!(
            "Random lookups: ns per lookup, median of {} runs of {} queries drawn from the keys",
            plan.reps, plan.queries
        ),
        &[
            "keys",
            "distribution",
            "ours ε16",
            "ours ε32",
            "ours ε64",
            "binary search",
            "BTreeMap",
            "redb",
            "jdb_pgm ε16",
            "BTreeMap/ours",
            "bsearch/ours",
            "redb/ours",
            "jdb_pgm/ours",
        ],
    );
    let mut shape = Table::new(
        "Index shape at ε16 (ours vs jdb_pgm)",
        &[
            "keys",
            "distribution",
            "segments",
            "height",
            "bits/key",
            "max err",
            "fit ns/key",
            "fit ns/key 1 thread",
            "jdb_pgm segments",
            "jdb_pgm bits/key",
            "jdb_pgm fit ns/key",
            "jdb_pgm wrong answers",
        ],
    );
    for &n in &plan.sizes {
        for &dist in &plan.distributions {
            let (l, s) = bench_one(report, &plan, n, dist)
                .with_context(|| format!("{} {}", n, dist.name()))?;
            lookups.row(l);
            shape.row(s);
        }
    }
    report.print_table(&lookups);
    report.print_table(&shape);
    report.print_notes();
    Ok(())
}

/// ns per call of `f` over `queries`, one run.
fn time_lookups(queries: &[u64], mut f: impl FnMut(u64) -> usize) -> f64 {
    let start = Instant::now();
    let mut acc = 0usize;
    for &q in queries {
        acc = acc.wrapping_add(f(black_box(q)));
    }
    black_box(acc);
    start.elapsed().as_nanos() as f64 / queries.len() as f64
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Median seconds of `reps` runs of `f`, and the last result.
fn time_build<T>(reps: usize, mut f: impl FnMut() -> T) -> (f64, T) {
    let mut out = None;
    let mut runs: Vec<f64> = (0..reps)
        .map(|_| {
            drop(out.take());
            let start = Instant::now();
            let v = f();
            let t = start.elapsed().as_secs_f64();
            out = Some(v);
            t
        })
        .collect();
    (median(&mut runs), out.expect("reps >= 1"))
}

fn label(n: usize) -> String {
    if n >= 1_000_000 && n.is_multiple_of(1_000_000) {
        format!("{}M", n / 1_000_000)
    } else {
        n.to_string()
    }
}

fn bench_one(
    report: &mut Report,
    plan: &Plan,
    n: usize,
    dist: Distribution,
) -> anyhow::Result<(Vec<String>, Vec<String>)> {
    let name = format!("index/{}/{}", label(n), dist.name());
    eprintln!("{name}: generating keys");
    let keys = dist.generate(n, 0x0_5EED);
    let queries = sample_hits(&keys, plan.queries, 0xC0FFEE);
    let fit_reps = if n <= 10_000_000 { 3 } else { 1 };
    let figure = |report: &mut Report, what: &str, v: f64, unit: &str| {
        report.figure(format!("{name}/{what}"), v, unit)
    };

    // Build everything first, then time the structures in interleaved rounds, so that interference
    // from other work on the machine spreads over all of them instead of landing on one.
    eprintln!("{name}: building ours");
    let (fit_s, ours16) = time_build(fit_reps, || PgmIndex::build(&keys, 16));
    let (fit1_s, _) = time_build(fit_reps, || PgmIndex::build_with_threads(&keys, 16, 1));
    let ours32 = PgmIndex::build(&keys, 32);
    let ours64 = PgmIndex::build(&keys, 64);
    let expected: Vec<usize> = queries
        .iter()
        .map(|&q| ours16.find(&keys, q).unwrap_or(usize::MAX))
        .collect();
    anyhow::ensure!(
        queries
            .iter()
            .zip(&expected)
            .all(|(&q, &p)| p == keys.partition_point(|&k| k < q)),
        "our index gave a wrong answer"
    );
    for (eps, index) in [(16, &ours16), (32, &ours32), (64, &ours64)] {
        figure(
            report,
            &format!("ours_eps{eps}/segments"),
            index.segments() as f64,
            "segments",
        );
        figure(
            report,
            &format!("ours_eps{eps}/height"),
            index.height() as f64,
            "levels",
        );
        figure(
            report,
            &format!("ours_eps{eps}/bits_per_key"),
            bits_per_key(index.size_in_bytes(), n),
            "bits/key",
        );
        figure(
            report,
            &format!("ours_eps{eps}/max_error"),
            index.max_error() as f64,
            "positions",
        );
    }
    figure(report, "ours_eps16/fit", fit_s * 1e9 / n as f64, "ns/key");
    figure(
        report,
        "ours_eps16/fit_1_thread",
        fit1_s * 1e9 / n as f64,
        "ns/key",
    );

    eprintln!("{name}: building jdb_pgm");
    let (jdb_fit_s, jdb) = time_build(fit_reps, || jdb_pgm::Pgm::new(&keys, 16, false));
    let jdb = jdb.map_err(|e| anyhow::anyhow!("jdb_pgm build: {e:?}"))?;
    let jdb_find = |q: u64| {
        let pos = jdb.find_key(q, |i| keys.get(i).copied());
        if keys.get(pos) == Some(&q) {
            pos
        } else {
            usize::MAX
        }
    };
    let jdb_wrong = queries
        .iter()
        .zip(&expected)
        .filter(|&(&q, &want)| jdb_find(q) != want)
        .count();
    if jdb_wrong > 0 {
        report.note(format!(
            "{name}: jdb_pgm gave {jdb_wrong} wrong answers out of {} queries",
            queries.len()
        ));
    }
    let jdb_bits = bits_per_key(jdb.mem_usage(), n);
    figure(report, "jdb_pgm/wrong_answers", jdb_wrong as f64, "queries");
    figure(report, "jdb_pgm/bits_per_key", jdb_bits, "bits/key");
    figure(report, "jdb_pgm/fit", jdb_fit_s * 1e9 / n as f64, "ns/key");

    eprintln!("{name}: building BTreeMap");
    let map: BTreeMap<u64, usize> = first_occurrences(&keys).collect();
    let redb = if n <= REDB_MAX_KEYS {
        eprintln!("{name}: building redb");
        Some(RedbTable::load(&keys)?)
    } else {
        None
    };
    let redb_table = redb.as_ref().map(RedbTable::table).transpose()?;
    let redb_get = |q: u64| match redb_table.as_ref().map(|t| t.get(q)) {
        Some(Ok(Some(v))) => v.value() as usize,
        _ => usize::MAX,
    };
    if redb_table.is_some() {
        // Warms redb's cache and checks its answers.
        let wrong = queries
            .iter()
            .zip(&expected)
            .filter(|&(&q, &want)| redb_get(q) != want)
            .count();
        anyhow::ensure!(wrong == 0, "redb gave {wrong} wrong answers");
    }

    eprintln!("{name}: timing {} rounds", plan.reps);
    const STRUCTURES: usize = 7;
    let mut runs: [Vec<f64>; STRUCTURES] = Default::default();
    for _ in 0..plan.reps {
        runs[0].push(time_lookups(&queries, |q| {
            ours16.find(&keys, q).unwrap_or(usize::MAX)
        }));
        runs[1].push(time_lookups(&queries, |q| {
            ours32.find(&keys, q).unwrap_or(usize::MAX)
        }));
        runs[2].push(time_lookups(&queries, |q| {
            ours64.find(&keys, q).unwrap_or(usize::MAX)
        }));
        runs[3].push(time_lookups(&queries, |q| {
            keys.binary_search(&q).unwrap_or(usize::MAX)
        }));
        runs[4].push(time_lookups(&queries, |q| {
            map.get(&q).copied().unwrap_or(usize::MAX)
        }));
        runs[5].push(if redb_table.is_some() {
            time_lookups(&queries, redb_get)
        } else {
            f64::NAN
        });
        runs[6].push(time_lookups(&queries, jdb_find));
    }
    let [o16, o32, o64, bsearch, btree_ns, redb_ns, jdb_ns] = runs.map(|mut r| median(&mut r));
    drop(redb_table);
    drop(redb);
    drop(map);
    for (what, v) in [
        ("ours_eps16/lookup", o16),
        ("ours_eps32/lookup", o32),
        ("ours_eps64/lookup", o64),
        ("binary_search/lookup", bsearch),
        ("btreemap/lookup", btree_ns),
        ("redb/lookup", redb_ns),
        ("jdb_pgm/lookup", jdb_ns),
    ] {
        if v.is_finite() {
            figure(report, what, v, "ns/lookup");
        }
    }

    let base = o16;
    let ratios = [
        ("btreemap", btree_ns),
        ("binary_search", bsearch),
        ("redb", redb_ns),
        ("jdb_pgm", jdb_ns),
    ];
    for (peer, ns) in ratios {
        if ns.is_finite() {
            report.ratio(format!("{name}/{peer}_over_ours"), ns / base);
        }
    }
    let ns = |v: f64| {
        if v.is_finite() {
            format!("{v:.1}")
        } else {
            "-".to_string()
        }
    };
    let x = |v: f64| {
        if v.is_finite() {
            format!("{:.2}x", v / base)
        } else {
            "-".to_string()
        }
    };
    let lookups = vec![
        label(n),
        dist.name().to_string(),
        ns(o16),
        ns(o32),
        ns(o64),
        ns(bsearch),
        ns(btree_ns),
        ns(redb_ns),
        ns(jdb_ns),
        x(btree_ns),
        x(bsearch),
        x(redb_ns),
        x(jdb_ns),
    ];
    let shape = vec![
        label(n),
        dist.name().to_string(),
        ours16.segments().to_string(),
        ours16.height().to_string(),
        format!("{:.3}", bits_per_key(ours16.size_in_bytes(), n)),
        ours16.max_error().to_string(),
        format!("{:.1}", fit_s * 1e9 / n as f64),
        format!("{:.1}", fit1_s * 1e9 / n as f64),
        jdb.segment_count().to_string(),
        format!("{jdb_bits:.3}"),
        format!("{:.1}", jdb_fit_s * 1e9 / n as f64),
        jdb_wrong.to_string(),
    ];
    eprintln!(
        "{name}: ours {o16:.1} ns, bsearch {bsearch:.1}, btree {btree_ns:.1}, redb {redb_ns:.1}, jdb_pgm {jdb_ns:.1}"
    );
    Ok((lookups, shape))
}

fn bits_per_key(bytes: usize, n: usize) -> f64 {
    bytes as f64 * 8.0 / n.max(1) as f64
}

/// `(key, first position)` for each distinct key, in key order.
fn first_occurrences(keys: &[u64]) -> impl Iterator<Item = (u64, usize)> + '_ {
    keys.iter()
        .enumerate()
        .filter(|&(i, k)| i == 0 || keys[i - 1] != *k)
        .map(|(i, &k)| (k, i))
}

/// The keys in a redb table, loaded in one non-durable transaction into a cache larger than the file.
struct RedbTable {
    db: Database,
    _dir: tempfile::TempDir,
}

impl RedbTable {
    fn load(keys: &[u64]) -> anyhow::Result<RedbTable> {
        let dir = tempfile::tempdir()?;
        let db = Database::builder()
            .set_cache_size(4 << 30)
            .create(dir.path().join("bench.redb"))?;
        let mut txn = db.begin_write()?;
        txn.set_durability(Durability::None)?;
        {
            let mut table = txn.open_table(REDB_TABLE)?;
            for (k, i) in first_occurrences(keys) {
                table.insert(k, i as u64)?;
            }
        }
        txn.commit()?;
        Ok(RedbTable { db, _dir: dir })
    }

    /// The table through a read transaction (the transaction lives as long as the table).
    fn table(&self) -> anyhow::Result<redb::ReadOnlyTable<u64, u64>> {
        Ok(self.db.begin_read()?.open_table(REDB_TABLE)?)
    }
}
