//! Exact TreeSHAP (Lundberg et al., "Consistent individualized feature attribution for tree ensembles",
//! algorithm 2): the Shapley values of one row for one tree under the tree's own cover-weighted conditional
//! expectations, in O(leaves × depth²) without allocating. The sum of a row's values plus the tree's expected
//! value is exactly the tree's output for the row.

use crate::gbdt::Tree;

#[derive(Clone, Copy, Default)]
pub(crate) struct PathElement {
    feature: i64,
    zero: f64,
    one: f64,
    pweight: f64,
}

/// The path buffer a tree of this depth needs.
pub(crate) fn buffer(max_depth: usize) -> Vec<PathElement> {
    vec![PathElement::default(); (max_depth + 2) * (max_depth + 3) / 2 + max_depth + 3]
}

/// Adds the tree's contributions for row `x` to `phi` (one slot per feature; the bias is not touched).
pub(crate) fn add(tree: &Tree, x: &[f64], phi: &mut [f64], buf: &mut [PathElement]) {
    recurse(tree, x, phi, 0, 0, buf, 0, 1.0, 1.0, -1);
}

/// `1 / k` for the small integers the path weights are scaled by: multiplications instead of divisions in the
/// inner loops (the divisions were most of the time).
const RECIP: [f64; 66] = {
    let mut t = [0.0; 66];
    let mut k = 1;
    while k < 66 {
        t[k] = 1.0 / k as f64;
        k += 1;
    }
    t
};

fn extend(path: &mut [PathElement], depth: usize, zero: f64, one: f64, feature: i64) {
    path[depth] = PathElement {
        feature,
        zero,
        one,
        pweight: if depth == 0 { 1.0 } else { 0.0 },
    };
    let inv_d1 = RECIP[depth + 1];
    for i in (0..depth).rev() {
        let w = path[i].pweight * inv_d1;
        path[i + 1].pweight += one * w * (i + 1) as f64;
        path[i].pweight = zero * w * (depth - i) as f64;
    }
}

fn unwind(path: &mut [PathElement], depth: usize, index: usize) {
    let (one, zero) = (path[index].one, path[index].zero);
    let d1 = (depth + 1) as f64;
    let inv_d1 = RECIP[depth + 1];
    let mut next_one = path[depth].pweight;
    if one != 0.0 {
        let inv_one = 1.0 / one;
        for i in (0..depth).rev() {
            let tmp = path[i].pweight;
            path[i].pweight = next_one * d1 * RECIP[i + 1] * inv_one;
            next_one = tmp - path[i].pweight * zero * (depth - i) as f64 * inv_d1;
        }
    } else {
        let inv_zero = 1.0 / zero;
        for i in (0..depth).rev() {
            path[i].pweight = path[i].pweight * d1 * inv_zero * RECIP[depth - i];
        }
    }
    for i in index..depth {
        path[i].feature = path[i + 1].feature;
        path[i].zero = path[i + 1].zero;
        path[i].one = path[i + 1].one;
    }
}

fn unwound_sum(path: &[PathElement], depth: usize, index: usize) -> f64 {
    let (one, zero) = (path[index].one, path[index].zero);
    let d1 = (depth + 1) as f64;
    let inv_d1 = RECIP[depth + 1];
    let mut total = 0.0;
    if one != 0.0 {
        let mut next_one = path[depth].pweight;
        let inv_one = 1.0 / one;
        for i in (0..depth).rev() {
            let tmp = next_one * d1 * RECIP[i + 1] * inv_one;
            total += tmp;
            next_one = path[i].pweight - tmp * zero * (depth - i) as f64 * inv_d1;
        }
    } else if zero != 0.0 {
        let inv_zero = 1.0 / zero;
        for i in (0..depth).rev() {
            total += path[i].pweight * inv_zero * d1 * RECIP[depth - i];
        }
    }
    total
}

#[allow(clippy::too_many_arguments)]
fn recurse(
    tree: &Tree,
    x: &[f64],
    phi: &mut [f64],
    node: usize,
    depth: usize,
    buf: &mut [PathElement],
    parent_start: usize,
    parent_zero: f64,
    parent_one: f64,
    parent_feature: i64,
) {
    // This level's copy of the path starts right after the parent's.
    let start = parent_start + depth + 1;
    buf.copy_within(parent_start..start, start);
    let mut depth = depth;
    {
        let path = &mut buf[start..];
        extend(path, depth, parent_zero, parent_one, parent_feature);
    }
    let n = &tree.nodes[node];
    if n.is_leaf() {
        let path = &buf[start..];
        for i in 1..=depth {
            let w = unwound_sum(path, depth, i);
            let el = path[i];
            phi[el.feature as usize] += w * (el.one - el.zero) * n.value;
        }
        return;
    }
    let (hot, cold) = if n.goes_left(x) {
        (n.left as usize, n.right as usize)
    } else {
        (n.right as usize, n.left as usize)
    };
    let w = n.cover;
    let hot_zero = tree.nodes[hot].cover / w;
    let cold_zero = tree.nodes[cold].cover / w;
    let (mut in_zero, mut in_one) = (1.0, 1.0);
    let feature = n.feature as i64;
    let path = &mut buf[start..];
    if let Some(k) = (0..=depth).find(|&k| path[k].feature == feature) {
        in_zero = path[k].zero;
        in_one = path[k].one;
        unwind(path, depth, k);
        depth -= 1;
    }
    recurse(
        tree,
        x,
        phi,
        hot,
        depth + 1,
        buf,
        start,
        hot_zero * in_zero,
        in_one,
        feature,
    );
    recurse(
        tree,
        x,
        phi,
        cold,
        depth + 1,
        buf,
        start,
        cold_zero * in_zero,
        0.0,
        feature,
    );
}

/// Trees at most this deep are explained from per-leaf tables ([`Tables`]); deeper ones by the recursion.
pub(crate) const TABLE_DEPTH: usize = 6;

/// One leaf's table: its path's distinct features (in first-appearance order from the root) and, for every
/// pattern of which of them a row's value leads towards the leaf, each feature's contribution.
#[derive(Clone, Debug, PartialEq)]
struct Leaf {
    /// Number of distinct features on the path.
    k: usize,
    /// Their column indexes.
    features: [u32; TABLE_DEPTH],
    /// Where its `2^k × k` values start.
    offset: usize,
}

/// A tree's exact TreeSHAP values precomputed per leaf and per pattern (the idea of Fast TreeSHAP v2, Yang
/// 2021). For a fixed leaf, the path's distinct features and their cover fractions do not depend on the row;
/// only which of them the row's values lead towards the leaf does (one bit each). So the leaf's contribution
/// to each of its features is one of `2^k` values, computed once by the same extend and unwind steps as the
/// recursion; a row then walks the tree once, carrying the bits, and adds `k` values per leaf: O(leaves ×
/// depth) per row instead of O(leaves × depth²) with the path bookkeeping.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Tables {
    /// Per node: for a split, the bit of its feature among the distinct features on the path to it; for a
    /// leaf, its index in `leaves`.
    slot: Vec<u32>,
    leaves: Vec<Leaf>,
    values: Vec<f64>,
}

impl Tables {
    /// The tables of a tree no deeper than [`TABLE_DEPTH`] (`None` for a deeper one).
    pub(crate) fn of(tree: &Tree) -> Option<Tables> {
        if tree.depth > TABLE_DEPTH || tree.nodes.is_empty() {
            return None;
        }
        let mut t = Tables {
            slot: vec![0; tree.nodes.len()],
            leaves: Vec::new(),
            values: Vec::new(),
        };
        let mut features = Vec::with_capacity(TABLE_DEPTH);
        let mut zeros = Vec::with_capacity(TABLE_DEPTH);
        t.walk(tree, 0, &mut features, &mut zeros);
        Some(t)
    }

    fn walk(&mut self, tree: &Tree, node: usize, features: &mut Vec<u32>, zeros: &mut Vec<f64>) {
        let n = &tree.nodes[node];
        if n.is_leaf() {
            self.slot[node] = self.leaves.len() as u32;
            self.add_leaf(features, zeros, n.value);
            return;
        }
        let (slot, fresh) = match features.iter().position(|&f| f == n.feature) {
            Some(s) => (s, false),
            None => {
                features.push(n.feature);
                zeros.push(1.0);
                (features.len() - 1, true)
            }
        };
        self.slot[node] = slot as u32;
        let before = zeros[slot];
        for child in [n.left as usize, n.right as usize] {
            zeros[slot] = before * tree.nodes[child].cover / n.cover;
            self.walk(tree, child, features, zeros);
        }
        zeros[slot] = before;
        if fresh {
            features.pop();
            zeros.pop();
        }
    }

    fn add_leaf(&mut self, features: &[u32], zeros: &[f64], value: f64) {
        let k = features.len();
        let mut leaf = Leaf {
            k,
            features: [0; TABLE_DEPTH],
            offset: self.values.len(),
        };
        leaf.features[..k].copy_from_slice(features);
        let mut path = [PathElement::default(); TABLE_DEPTH + 1];
        for pattern in 0..1usize << k {
            extend(&mut path, 0, 1.0, 1.0, -1);
            for (j, &zero) in zeros.iter().enumerate() {
                let one = f64::from(u8::from(pattern & (1 << j) != 0));
                extend(&mut path, j + 1, zero, one, j as i64);
            }
            for i in 1..=k {
                let w = unwound_sum(&path, k, i);
                self.values.push(w * (path[i].one - path[i].zero) * value);
            }
        }
        self.leaves.push(leaf);
    }

    /// Adds the tree's contributions for row `x` to `phi`, as [`add`] does.
    pub(crate) fn add(&self, tree: &Tree, x: &[f64], phi: &mut [f64]) {
        // Depth-first, each pending node with the bits of the features whose values lead towards it.
        let mut stack = [(0u32, 0u32); TABLE_DEPTH + 2];
        stack[0] = (0, u32::MAX);
        let mut top = 1;
        while top > 0 {
            top -= 1;
            let (i, bits) = stack[top];
            let n = &tree.nodes[i as usize];
            let slot = self.slot[i as usize];
            if n.is_leaf() {
                let leaf = &self.leaves[slot as usize];
                let k = leaf.k;
                let pattern = bits as usize & ((1 << k) - 1);
                let at = leaf.offset + pattern * k;
                for (f, v) in leaf.features[..k].iter().zip(&self.values[at..at + k]) {
                    phi[*f as usize] += v;
                }
                continue;
            }
            let cold = bits & !(1 << slot);
            let (left, right) = if n.goes_left(x) {
                (bits, cold)
            } else {
                (cold, bits)
            };
            stack[top] = (n.right, right);
            stack[top + 1] = (n.left, left);
            top += 2;
        }
    }
}
