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
    let v = x[n.feature as usize];
    let go_left = if v.is_nan() {
        n.missing_left
    } else {
        v < n.threshold
    };
    let (hot, cold) = if go_left {
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
