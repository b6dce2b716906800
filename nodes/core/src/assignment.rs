//! Optimal assignment (linear sum assignment) on a dense rectangular cost matrix.
//!
//! The Hungarian method in its shortest-augmenting-path form with potentials (Kuhn-Munkres,
//! O(n² m) for n <= m), as used by tracker association and by the CLEAR MOT evaluation.
//! Infeasible pairs are given a large finite cost by the caller and dropped after solving.
//! [`Assignment`] keeps its buffers, so solving again allocates nothing once warmed up.

/// A reusable solver for min-cost assignment.
#[derive(Debug, Default, Clone)]
pub struct Assignment {
    u: Vec<f64>,
    v: Vec<f64>,
    p: Vec<usize>,
    way: Vec<usize>,
    minv: Vec<f64>,
    used: Vec<bool>,
    transposed: Vec<f64>,
}

impl Assignment {
    /// A solver with empty buffers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Solves min-cost assignment for a `rows` x `cols` row-major `cost` matrix.
    ///
    /// Writes into `row_to_col` (resized to `rows`) the column of each row, or `None` for rows
    /// left unassigned (only when `rows > cols`). Every row is assigned when `rows <= cols`, and
    /// the total cost is minimal. Costs must be finite.
    pub fn solve(
        &mut self,
        cost: &[f64],
        rows: usize,
        cols: usize,
        row_to_col: &mut Vec<Option<usize>>,
    ) {
        row_to_col.clear();
        row_to_col.resize(rows, None);
        if rows == 0 || cols == 0 {
            return;
        }
        debug_assert_eq!(cost.len(), rows * cols);
        if rows <= cols {
            self.run(cost, rows, cols);
            for j in 1..=cols {
                let i = self.p[j];
                if i != 0 {
                    row_to_col[i - 1] = Some(j - 1);
                }
            }
        } else {
            let mut t = std::mem::take(&mut self.transposed);
            t.clear();
            t.resize(rows * cols, 0.0);
            for r in 0..rows {
                for c in 0..cols {
                    t[c * rows + r] = cost[r * cols + c];
                }
            }
            self.run(&t, cols, rows);
            self.transposed = t;
            for j in 1..=rows {
                let i = self.p[j];
                if i != 0 {
                    row_to_col[j - 1] = Some(i - 1);
                }
            }
        }
    }

    /// Core algorithm for `n <= m` (1-based potentials, column 0 is the virtual start).
    fn run(&mut self, a: &[f64], n: usize, m: usize) {
        self.u.clear();
        self.u.resize(n + 1, 0.0);
        self.v.clear();
        self.v.resize(m + 1, 0.0);
        self.p.clear();
        self.p.resize(m + 1, 0);
        self.way.clear();
        self.way.resize(m + 1, 0);
        for i in 1..=n {
            self.p[0] = i;
            let mut j0 = 0usize;
            self.minv.clear();
            self.minv.resize(m + 1, f64::INFINITY);
            self.used.clear();
            self.used.resize(m + 1, false);
            loop {
                self.used[j0] = true;
                let i0 = self.p[j0];
                let mut delta = f64::INFINITY;
                let mut j1 = 0usize;
                for j in 1..=m {
                    if !self.used[j] {
                        let cur = a[(i0 - 1) * m + (j - 1)] - self.u[i0] - self.v[j];
                        if cur < self.minv[j] {
                            self.minv[j] = cur;
                            self.way[j] = j0;
                        }
                        if self.minv[j] < delta {
                            delta = self.minv[j];
                            j1 = j;
                        }
                    }
                }
                if j1 == 0 {
                    // Only reachable with non-finite costs: stop rather than loop.
                    break;
                }
                for j in 0..=m {
                    if self.used[j] {
                        self.u[self.p[j]] += delta;
                        self.v[j] -= delta;
                    } else {
                        self.minv[j] -= delta;
                    }
                }
                j0 = j1;
                if self.p[j0] == 0 {
                    break;
                }
            }
            loop {
                let j1 = self.way[j0];
                self.p[j0] = self.p[j1];
                j0 = j1;
                if j0 == 0 {
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn brute_force(cost: &[f64], rows: usize, cols: usize) -> f64 {
        // Minimum over all injective maps of the smaller side into the larger one.
        fn rec(cost: &[f64], rows: usize, cols: usize, r: usize, used: &mut Vec<bool>) -> f64 {
            if r == rows {
                return 0.0;
            }
            let mut best = f64::INFINITY;
            for c in 0..cols {
                if !used[c] {
                    used[c] = true;
                    best = best.min(cost[r * cols + c] + rec(cost, rows, cols, r + 1, used));
                    used[c] = false;
                }
            }
            best
        }
        if rows <= cols {
            rec(cost, rows, cols, 0, &mut vec![false; cols])
        } else {
            let mut t = vec![0.0; rows * cols];
            for r in 0..rows {
                for c in 0..cols {
                    t[c * rows + r] = cost[r * cols + c];
                }
            }
            rec(&t, cols, rows, 0, &mut vec![false; rows])
        }
    }

    #[test]
    fn matches_brute_force_on_random_matrices() {
        let mut s = 99u64;
        let mut next = || {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 11) as f64) / ((1u64 << 53) as f64)
        };
        let mut solver = Assignment::new();
        let mut out = Vec::new();
        for rows in 1..6 {
            for cols in 1..6 {
                for _ in 0..20 {
                    let cost: Vec<f64> =
                        (0..rows * cols).map(|_| (next() * 10.0).floor()).collect();
                    solver.solve(&cost, rows, cols, &mut out);
                    let total: f64 = out
                        .iter()
                        .enumerate()
                        .filter_map(|(r, c)| c.map(|c| cost[r * cols + c]))
                        .sum();
                    assert_eq!(out.iter().filter(|c| c.is_some()).count(), rows.min(cols));
                    let mut seen = vec![false; cols];
                    for c in out.iter().flatten() {
                        assert!(!seen[*c]);
                        seen[*c] = true;
                    }
                    assert!((total - brute_force(&cost, rows, cols)).abs() < 1e-9);
                }
            }
        }
    }

    #[test]
    fn empty_matrix_assigns_nothing() {
        let mut out = vec![Some(3)];
        Assignment::new().solve(&[], 2, 0, &mut out);
        assert_eq!(out, vec![None, None]);
    }
}
