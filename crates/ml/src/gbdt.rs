//! Gradient-boosted trees: trained by `forust-ml` (histogram GBDT, depth-wise trees, native missing values,
//! early stopping on a held-out set), then kept, evaluated and explained by this crate.
//!
//! The fitted ensemble is converted into a compact [`Forest`]: only the trees up to the best iteration,
//! nodes in depth-first order with their split, the side missing values take, the leaf value (as trained, f32)
//! and the cover (hessian sum). Prediction adds the leaves in the trainer's order, so scores match it exactly;
//! contributions come from the exact TreeSHAP in `treeshap`, parallel over rows. Stored as a small binary
//! (about 30 bytes a node) instead of the trainer's JSON.

use crate::codec::{Reader, Writer};
use crate::{check_labels, treeshap, Dataset, Learner, MlError, Model, Result};
use forust_ml::metric::Metric;
use forust_ml::objective::ObjectiveType;
use forust_ml::{GradientBooster, Matrix};

/// The engine's name in the registry.
pub const KIND: &str = "gbdt";

/// Hyperparameters.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GbdtParams {
    /// Most trees (early stopping usually ends sooner).
    pub iterations: usize,
    /// Shrinkage.
    pub learning_rate: f32,
    /// Depth of each tree.
    pub max_depth: usize,
    /// L2 regularisation of leaf values.
    pub l2: f32,
    /// Smallest hessian sum of a leaf.
    pub min_leaf_weight: f32,
    /// Histogram bins per feature.
    pub nbins: u16,
    /// Rounds without improvement on the held-out set before stopping.
    pub early_stopping_rounds: usize,
    /// Share of rows each tree sees.
    pub subsample: f32,
    /// Share of columns each tree sees.
    pub colsample: f64,
    /// Random seed.
    pub seed: u64,
}

impl Default for GbdtParams {
    fn default() -> Self {
        GbdtParams {
            iterations: 600,
            learning_rate: 0.1,
            max_depth: 5,
            l2: 1.0,
            min_leaf_weight: 5.0,
            nbins: 256,
            early_stopping_rounds: 40,
            subsample: 1.0,
            colsample: 1.0,
            seed: 7,
        }
    }
}

/// Fits gradient-boosted trees.
#[derive(Clone, Debug, Default)]
pub struct Gbdt {
    /// Hyperparameters.
    pub params: GbdtParams,
}

impl Learner for Gbdt {
    fn name(&self) -> &'static str {
        KIND
    }

    fn fit(
        &self,
        x: &Dataset,
        y: &[f64],
        valid: Option<(&Dataset, &[f64])>,
    ) -> Result<Box<dyn Model>> {
        check_labels(x, y)?;
        let p = &self.params;
        if !(1..=32).contains(&p.max_depth) {
            return Err(MlError::Data(format!(
                "max_depth {} is outside 1–32",
                p.max_depth
            )));
        }
        let mut booster = GradientBooster::default()
            .set_objective_type(ObjectiveType::LogLoss)
            .set_iterations(p.iterations)
            .set_learning_rate(p.learning_rate)
            .set_max_depth(p.max_depth)
            .set_l2(p.l2)
            .set_min_leaf_weight(p.min_leaf_weight)
            .set_nbins(p.nbins)
            .set_subsample(p.subsample)
            .set_colsample_bytree(p.colsample)
            .set_seed(p.seed)
            .set_create_missing_branch(false)
            .set_initialize_base_score(true);
        let m = Matrix::new(&x.data, x.rows, x.cols());
        let w = vec![1.0; x.rows];
        let eval = valid.map(|(v, vy)| (v, vy, vec![1.0; v.rows]));
        let eval_data = eval
            .as_ref()
            .map(|(v, vy, vw)| vec![(Matrix::new(&v.data, v.rows, v.cols()), *vy, vw.as_slice())]);
        if eval_data.is_some() {
            booster = booster
                .set_evaluation_metric(Some(Metric::LogLoss))
                .set_early_stopping_rounds(Some(p.early_stopping_rounds));
        }
        booster
            .fit(&m, y, &w, eval_data)
            .map_err(|e| MlError::Engine(e.to_string()))?;
        Ok(Box::new(Forest::from_booster(&booster, x.cols())?))
    }
}

/// A node of a stored tree. Leaves have `feature == u32::MAX`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Node {
    pub feature: u32,
    pub threshold: f64,
    pub left: u32,
    pub right: u32,
    pub missing_left: bool,
    pub value: f64,
    pub cover: f64,
}

impl Node {
    /// Whether row `x` takes this split's left branch (a missing value goes the side it was trained to).
    #[inline]
    pub fn goes_left(&self, x: &[f64]) -> bool {
        let v = x[self.feature as usize];
        if v.is_nan() {
            self.missing_left
        } else {
            v < self.threshold
        }
    }

    pub fn leaf(value: f64, cover: f64) -> Node {
        Node {
            feature: u32::MAX,
            threshold: 0.0,
            left: 0,
            right: 0,
            missing_left: false,
            value,
            cover,
        }
    }

    pub fn is_leaf(&self) -> bool {
        self.feature == u32::MAX
    }
}

/// One tree, nodes in depth-first order (the root first).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Tree {
    pub nodes: Vec<Node>,
    /// The cover-weighted mean of the leaves: the tree's expected output.
    pub expected: f64,
    pub depth: usize,
}

impl Tree {
    fn predict(&self, x: &[f64]) -> f64 {
        let mut i = 0;
        loop {
            let n = &self.nodes[i];
            if n.is_leaf() {
                return n.value;
            }
            i = if n.goes_left(x) { n.left } else { n.right } as usize;
        }
    }

    /// Sets internal covers to the sum of their children's (so the branch fractions add to one exactly) and
    /// computes the expected value and depth.
    fn finish(&mut self) {
        fn walk(nodes: &mut [Node], i: usize, depth: usize, max: &mut usize) -> (f64, f64) {
            *max = (*max).max(depth);
            let n = nodes[i];
            if n.is_leaf() {
                return (n.cover, n.value * n.cover);
            }
            let (cl, sl) = walk(nodes, n.left as usize, depth + 1, max);
            let (cr, sr) = walk(nodes, n.right as usize, depth + 1, max);
            nodes[i].cover = cl + cr;
            (cl + cr, sl + sr)
        }
        let mut depth = 0;
        let (c, s) = walk(&mut self.nodes, 0, 0, &mut depth);
        self.expected = if c > 0.0 { s / c } else { 0.0 };
        self.depth = depth;
    }
}

/// A fitted tree ensemble on the log-odds scale.
#[derive(Clone, Debug)]
pub struct Forest {
    base: f64,
    cols: usize,
    trees: Vec<Tree>,
    /// Each tree's TreeSHAP tables, made on the first explanation.
    tables: std::sync::OnceLock<Vec<Option<treeshap::Tables>>>,
}

impl PartialEq for Forest {
    fn eq(&self, other: &Forest) -> bool {
        (self.base, self.cols, &self.trees) == (other.base, other.cols, &other.trees)
    }
}

impl Forest {
    fn from_booster(b: &GradientBooster, cols: usize) -> Result<Forest> {
        let keep = b.prediction_iteration.unwrap_or(b.trees.len());
        let mut trees = Vec::with_capacity(keep);
        for t in &b.trees[..keep.min(b.trees.len())] {
            let mut nodes = Vec::with_capacity(t.nodes.len());
            // Depth-first from the root, children placed after their parent.
            fn add(src: &forust_ml::tree::Tree, i: usize, out: &mut Vec<Node>) -> Result<u32> {
                let n = &src.nodes[i];
                let at = out.len();
                out.push(Node::leaf(n.weight_value as f64, n.hessian_sum as f64));
                if !n.is_leaf {
                    if n.missing_node != n.left_child && n.missing_node != n.right_child {
                        return Err(MlError::Engine(
                            "a tree has a separate missing branch".into(),
                        ));
                    }
                    let l = add(src, n.left_child, out)?;
                    let r = add(src, n.right_child, out)?;
                    out[at] = Node {
                        feature: n.split_feature as u32,
                        threshold: n.split_value,
                        left: l,
                        right: r,
                        missing_left: n.missing_node == n.left_child,
                        value: 0.0,
                        cover: 0.0,
                    };
                }
                Ok(at as u32)
            }
            if t.nodes.is_empty() {
                continue;
            }
            add(t, 0, &mut nodes)?;
            let mut tree = Tree {
                nodes,
                expected: 0.0,
                depth: 0,
            };
            tree.finish();
            trees.push(tree);
        }
        Ok(Forest {
            base: b.base_score,
            cols,
            trees,
            tables: Default::default(),
        })
    }

    /// Number of trees.
    pub fn trees(&self) -> usize {
        self.trees.len()
    }

    /// Score of one row (log-odds).
    pub fn predict_row(&self, x: &[f64]) -> f64 {
        let mut s = self.base;
        for t in &self.trees {
            s += t.predict(x);
        }
        s
    }

    /// Contributions of one row into `out` (`cols + 1` values, the bias last).
    pub fn contributions_row(&self, x: &[f64], out: &mut [f64]) {
        let tables = self
            .tables
            .get_or_init(|| self.trees.iter().map(treeshap::Tables::of).collect());
        let depth = self.trees.iter().map(|t| t.depth).max().unwrap_or(0);
        let mut buf = Vec::new();
        out.iter_mut().for_each(|v| *v = 0.0);
        let mut bias = self.base;
        for (t, table) in self.trees.iter().zip(tables) {
            bias += t.expected;
            match table {
                Some(table) => table.add(t, x, &mut out[..self.cols]),
                None => {
                    if buf.is_empty() {
                        buf = treeshap::buffer(depth);
                    }
                    treeshap::add(t, x, &mut out[..self.cols], &mut buf)
                }
            }
        }
        out[self.cols] = bias;
    }

    pub(crate) fn from_bytes(bytes: &[u8]) -> Result<Forest> {
        let mut r = Reader(bytes);
        if r.u32()? != 1 {
            return Err(MlError::Corrupt("unknown forest format version".into()));
        }
        let base = r.f64()?;
        let cols = r.u32()? as usize;
        let n_trees = r.len(4)?;
        let mut trees = Vec::with_capacity(n_trees);
        for _ in 0..n_trees {
            let n = r.len(12)?;
            let mut nodes = Vec::with_capacity(n);
            for _ in 0..n {
                let feature = r.u32()?;
                let cover = r.f32()? as f64;
                if feature == u32::MAX {
                    nodes.push(Node::leaf(r.f32()? as f64, cover));
                } else {
                    let threshold = r.f64()?;
                    let lr = r.u32()?;
                    let right = lr & 0x7fff_ffff;
                    let missing_left = lr >> 31 == 1;
                    if feature as usize >= cols || right as usize >= n || nodes.len() + 1 >= n {
                        return Err(MlError::Corrupt("node out of range".into()));
                    }
                    nodes.push(Node {
                        feature,
                        threshold,
                        // Depth-first order: the left child follows its parent.
                        left: nodes.len() as u32 + 1,
                        right,
                        missing_left,
                        value: 0.0,
                        cover,
                    });
                }
            }
            let mut t = Tree {
                nodes,
                expected: 0.0,
                depth: 0,
            };
            t.finish();
            trees.push(t);
        }
        Ok(Forest {
            base,
            cols,
            trees,
            tables: Default::default(),
        })
    }
}

impl Model for Forest {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn raw(&self, x: &Dataset) -> Vec<f64> {
        par_rows(x.rows, 1, |i, row, out| {
            x.row_into(i, row);
            out[0] = self.predict_row(row);
        })
    }

    fn contributions(&self, x: &Dataset) -> Vec<f64> {
        par_rows(x.rows, self.cols + 1, |i, row, out| {
            x.row_into(i, row);
            self.contributions_row(row, out);
        })
    }

    fn expected_raw(&self) -> f64 {
        self.base + self.trees.iter().map(|t| t.expected).sum::<f64>()
    }

    fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.u32(1);
        w.f64(self.base);
        w.u32(self.cols as u32);
        w.u32(self.trees.len() as u32);
        for t in &self.trees {
            w.u32(t.nodes.len() as u32);
            for n in &t.nodes {
                w.u32(n.feature);
                // Leaf covers are trained as f32 (hessian sums); internal covers are recomputed on load.
                w.f32(n.cover as f32);
                if n.is_leaf() {
                    w.f32(n.value as f32);
                } else {
                    w.f64(n.threshold);
                    w.u32(n.right | (u32::from(n.missing_left) << 31));
                }
            }
        }
        w.0
    }

    fn describe(&self) -> String {
        let depth = self.trees.iter().map(|t| t.depth).max().unwrap_or(0);
        let nodes: usize = self.trees.iter().map(|t| t.nodes.len()).sum();
        format!("{} trees, depth ≤ {depth}, {nodes} nodes", self.trees.len())
    }
}

/// Runs `f(row_index, scratch_row, out_slot)` for every row on all cores; `width` values per row.
pub(crate) fn par_rows(
    rows: usize,
    width: usize,
    f: impl Fn(usize, &mut Vec<f64>, &mut [f64]) + Sync,
) -> Vec<f64> {
    let mut out = vec![0.0; rows * width];
    if rows == 0 {
        return out;
    }
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(rows.div_ceil(256))
        .max(1);
    let per = rows.div_ceil(threads);
    std::thread::scope(|s| {
        for (k, chunk) in out.chunks_mut(per * width).enumerate() {
            let f = &f;
            s.spawn(move || {
                let mut row = Vec::new();
                for (j, slot) in chunk.chunks_mut(width).enumerate() {
                    f(k * per + j, &mut row, slot);
                }
            });
        }
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaf(value: f64, cover: f64) -> Node {
        Node::leaf(value, cover)
    }

    fn split(feature: u32, threshold: f64, left: u32, right: u32, missing_left: bool) -> Node {
        Node {
            feature,
            threshold,
            left,
            right,
            missing_left,
            value: 0.0,
            cover: 0.0,
        }
    }

    /// The path-dependent expectation of the tree with the features in `known` fixed to `x`: unknown splits
    /// average their children by cover, as TreeSHAP defines it.
    fn expectation(t: &Tree, i: usize, x: &[f64], known: u32) -> f64 {
        let n = &t.nodes[i];
        if n.is_leaf() {
            return n.value;
        }
        let (l, r) = (n.left as usize, n.right as usize);
        if known & (1 << n.feature) != 0 {
            let v = x[n.feature as usize];
            let left = if v.is_nan() {
                n.missing_left
            } else {
                v < n.threshold
            };
            expectation(t, if left { l } else { r }, x, known)
        } else {
            (t.nodes[l].cover * expectation(t, l, x, known)
                + t.nodes[r].cover * expectation(t, r, x, known))
                / n.cover
        }
    }

    fn brute_force(t: &Tree, x: &[f64], m: usize) -> Vec<f64> {
        let fact = |k: usize| (1..=k).product::<usize>() as f64;
        let mut phi = vec![0.0; m];
        for (j, p) in phi.iter_mut().enumerate() {
            for s in 0u32..(1 << m) {
                if s & (1 << j) != 0 {
                    continue;
                }
                let k = s.count_ones() as usize;
                let w = fact(k) * fact(m - k - 1) / fact(m);
                *p += w * (expectation(t, 0, x, s | (1 << j)) - expectation(t, 0, x, s));
            }
        }
        phi
    }

    #[test]
    fn treeshap_matches_brute_force_shapley_values_with_repeated_features_and_missing_values() {
        // Feature 0 is split twice on one path, feature 2 decides missing values to the right.
        let mut t = Tree {
            nodes: vec![
                split(0, 5.0, 1, 6, true),
                split(1, 2.0, 2, 3, false),
                leaf(1.0, 10.0),
                split(0, 2.0, 4, 5, true),
                leaf(-2.0, 3.0),
                leaf(0.5, 7.0),
                split(2, 0.0, 7, 8, false),
                leaf(3.0, 4.0),
                split(3, 1.0, 9, 10, true),
                leaf(-1.0, 6.0),
                leaf(2.5, 2.0),
            ],
            expected: 0.0,
            depth: 0,
        };
        t.finish();
        let rows = [
            [1.0, 1.0, 0.0, 0.0],
            [3.0, 4.0, f64::NAN, 9.0],
            [f64::NAN, 3.0, -1.0, 0.0],
            [7.0, f64::NAN, f64::NAN, f64::NAN],
            [9.0, 0.0, 1.0, 2.0],
        ];
        for x in rows {
            let exact = brute_force(&t, &x, 4);
            let mut phi = vec![0.0; 4];
            let mut buf = treeshap::buffer(t.depth);
            treeshap::add(&t, &x, &mut phi, &mut buf);
            let mut tabled = vec![0.0; 4];
            treeshap::Tables::of(&t).unwrap().add(&t, &x, &mut tabled);
            for j in 0..4 {
                assert!((phi[j] - exact[j]).abs() < 1e-12, "{x:?} {phi:?} {exact:?}");
                assert!(
                    (tabled[j] - exact[j]).abs() < 1e-12,
                    "{x:?} {tabled:?} {exact:?}"
                );
            }
            let sum: f64 = phi.iter().sum::<f64>() + t.expected;
            assert!((sum - t.predict(&x)).abs() < 1e-12);
        }
    }

    fn synthetic(n: usize, seed: u64) -> (Dataset, Vec<f64>) {
        // A small LCG keeps the test free of extra dependencies.
        let mut s = seed;
        let mut next = || {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 11) as f64) / ((1u64 << 53) as f64)
        };
        let mut rows = Vec::new();
        let mut y = Vec::new();
        for _ in 0..n {
            let mut r: Vec<f64> = (0..6).map(|_| next() * 10.0).collect();
            let z = 0.6 * (r[0] - 5.0) - 0.4 * (r[1] - 5.0) + if r[2] > 7.0 { 1.5 } else { 0.0 };
            let p = 1.0 / (1.0 + (-z).exp());
            y.push(if next() < p { 1.0 } else { 0.0 });
            for v in r.iter_mut() {
                if next() < 0.15 {
                    *v = f64::NAN;
                }
            }
            rows.push(r);
        }
        let names = (0..6).map(|j| format!("x{j}")).collect();
        (Dataset::from_rows(names, &rows), y)
    }

    #[test]
    fn fitted_forest_scores_match_the_trainer_contributions_sum_and_bytes_round_trip() {
        let (x, y) = synthetic(4000, 1);
        let (v, vy) = synthetic(1000, 2);
        let g = Gbdt {
            params: GbdtParams {
                iterations: 200,
                learning_rate: 0.1,
                ..Default::default()
            },
        };
        let model = g.fit(&x, &y, Some((&v, &vy))).unwrap();
        let raw = model.raw(&v);
        let contrib = model.contributions(&v);
        // The per-leaf tables give the recursion's values.
        let forest = Forest::from_bytes(&model.to_bytes()).unwrap();
        let mut row = Vec::new();
        let mut buf = treeshap::buffer(5);
        for i in 0..200 {
            v.row_into(i, &mut row);
            let mut phi = vec![0.0; 6];
            for t in &forest.trees {
                treeshap::add(t, &row, &mut phi, &mut buf);
            }
            for j in 0..6 {
                assert!(
                    (phi[j] - contrib[i * 7 + j]).abs() < 1e-9,
                    "row {i} column {j}: {} against {}",
                    phi[j],
                    contrib[i * 7 + j]
                );
            }
        }
        for i in 0..v.rows {
            let s: f64 = contrib[i * 7..(i + 1) * 7].iter().sum();
            assert!((s - raw[i]).abs() < 1e-6, "row {i}: {s} vs {}", raw[i]);
        }
        // The informative features carry the weight; the noise columns little.
        let mean_abs =
            |j: usize| (0..v.rows).map(|i| contrib[i * 7 + j].abs()).sum::<f64>() / v.rows as f64;
        assert!(
            mean_abs(0) > 5.0 * mean_abs(4),
            "{} {}",
            mean_abs(0),
            mean_abs(4)
        );
        let auc = crate::metrics::roc_auc(&raw, &vy);
        assert!(auc > 0.8, "auc {auc}");
        let back = crate::load(&crate::save(model.as_ref())).unwrap();
        assert_eq!(back.raw(&v), raw);
        assert_eq!(back.contributions(&v), contrib);
    }

    #[test]
    fn corrupt_bytes_are_an_error_not_a_panic() {
        let (x, y) = synthetic(500, 3);
        let model = Gbdt::default().fit(&x, &y, None).unwrap();
        let bytes = crate::save(model.as_ref());
        for cut in [0, 1, 5, bytes.len() / 2, bytes.len() - 1] {
            assert!(crate::load(&bytes[..cut]).is_err(), "cut at {cut}");
        }
    }
}
