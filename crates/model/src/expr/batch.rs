//! Compiled trees evaluated over a whole batch of households at once.
//!
//! A closure per node ([`BoolExpr::to_fn`]) still costs a call per node,
//! per household and per member. Here each node runs once per batch, as a
//! loop over all its households (or all their members), so that the cost
//! of walking the tree is shared by hundreds of households and the loops
//! are plain arithmetic over slices.
//!
//! The answers are those of [`BoolExpr::eval`], bit for bit: the same
//! operations in the same order on the same values (sums over members add
//! member after member, as `Iterator::sum` does in the tree). Both sides of
//! `and`, `or` and `if` are computed; nothing has side effects, so that
//! changes no answer. A test compares the two on every item of the bundled
//! model over simulated households.

use super::compiled::{ArithOp, BoolExpr, CmpOp, Inputs, NumExpr, Src};

/// The inputs of many households, as the batch evaluator reads them.
#[derive(Debug, Clone, Copy)]
pub struct Columns<'a> {
    /// Household rows, one after another, `household_stride` values each.
    pub household: &'a [f64],
    /// Values in a household row.
    pub household_stride: usize,
    /// Member rows, one after another, each household's members together
    /// and the households in order, `member_stride` values each.
    pub members: &'a [f64],
    /// Values in a member row.
    pub member_stride: usize,
    /// Household `h` has member rows `starts[h]..starts[h + 1]`; one more
    /// entry than there are households, the first `0`.
    pub starts: &'a [usize],
    /// For each member row, its household.
    pub owner: &'a [usize],
}

impl<'a> Columns<'a> {
    /// Number of households.
    pub fn len(&self) -> usize {
        self.starts.len().saturating_sub(1)
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Household `h`'s members, as a range of member rows.
    pub fn span(&self, h: usize) -> std::ops::Range<usize> {
        self.starts[h]..self.starts[h + 1]
    }

    /// Household `h`'s inputs, as the one-household evaluators read them.
    pub fn inputs(&self, h: usize) -> Inputs<'a> {
        let span = self.span(h);
        let hs = self.household_stride;
        Inputs {
            household: &self.household[h * hs..(h + 1) * hs],
            members: &self.members[span.start * self.member_stride..span.end * self.member_stride],
            stride: self.member_stride,
            count: span.len(),
        }
    }
}

/// Households' inputs copied side by side into buffers of their own, for
/// evaluating a set of households read some other way (a whole roster, a
/// benchmark) as one batch.
#[derive(Debug, Clone, Default)]
pub struct OwnedColumns {
    household: Vec<f64>,
    household_stride: usize,
    members: Vec<f64>,
    member_stride: usize,
    starts: Vec<usize>,
    owner: Vec<usize>,
}

impl OwnedColumns {
    /// Appends a household. Every household of a batch has the same
    /// columns (the strides of the first are kept).
    pub fn push(&mut self, x: &Inputs) {
        if self.starts.is_empty() {
            (self.household_stride, self.member_stride) = (x.household.len(), x.stride);
            self.starts.push(0);
        }
        let h = self.starts.len() - 1;
        self.household.extend_from_slice(x.household);
        self.members.extend_from_slice(x.members);
        self.owner.extend(std::iter::repeat_n(h, x.count));
        self.starts.push(self.owner.len());
    }

    /// The households, as the batch evaluator reads them.
    pub fn columns(&self) -> Columns<'_> {
        Columns {
            household: &self.household,
            household_stride: self.household_stride,
            members: &self.members,
            member_stride: self.member_stride,
            starts: if self.starts.is_empty() { &[0] } else { &self.starts },
            owner: &self.owner,
        }
    }
}

impl<'a> FromIterator<Inputs<'a>> for OwnedColumns {
    fn from_iter<I: IntoIterator<Item = Inputs<'a>>>(households: I) -> Self {
        let mut owned = OwnedColumns::default();
        for x in households {
            owned.push(&x);
        }
        owned
    }
}

/// Which rows an expression is evaluated for: one value per household, or
/// one per member (a per-member item, or the inside of `any`, `count`, ..).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// One value per household.
    Household,
    /// One value per member row.
    Member,
}

/// Evaluates trees over [`Columns`], keeping its scratch vectors from call
/// to call (one per worker thread).
///
/// [`BatchEval::load`] first turns the batch's rows into columns (each
/// input column's values side by side), so that a column read at its own
/// level is a slice, not a gather: `age >= 60` over a batch is one loop
/// over a slice of ages.
#[derive(Debug, Default)]
pub struct BatchEval {
    numbers: Vec<Vec<f64>>,
    flags: Vec<Vec<bool>>,
    /// Household column `c` is `households[c * n..(c + 1) * n]`, `n` the
    /// households loaded.
    households: Vec<f64>,
    /// Member column `c` is `members[c * n..(c + 1) * n]`, `n` the member
    /// rows loaded.
    members: Vec<f64>,
}

impl BatchEval {
    /// Loads a batch: call before evaluating anything over it.
    pub fn load(&mut self, x: &Columns) {
        transpose(x.household, x.household_stride, x.len(), &mut self.households);
        transpose(x.members, x.member_stride, x.owner.len(), &mut self.members);
    }

    /// Column `slot` of the loaded batch, at its own level.
    fn column(&self, src: Src, x: &Columns) -> &[f64] {
        match src {
            Src::Household(slot) => {
                let n = x.len();
                &self.households[slot as usize * n..(slot as usize + 1) * n]
            }
            Src::Member(slot) => {
                let n = x.owner.len();
                &self.members[slot as usize * n..(slot as usize + 1) * n]
            }
        }
    }

    /// Applies `f` to the values of `src` at `level`: the column itself at
    /// its own level, otherwise the values gathered (see [`read`]).
    fn with_values<T>(&mut self, src: Src, x: &Columns, level: Level, f: impl FnOnce(&[f64]) -> T) -> T {
        let native =
            matches!((src, level), (Src::Household(_), Level::Household) | (Src::Member(_), Level::Member));
        if native {
            return f(self.column(src, x));
        }
        let mut v = self.numbers();
        read(src, x, level, &mut v);
        let out = f(&v);
        self.numbers.push(v);
        out
    }

    fn numbers(&mut self) -> Vec<f64> {
        let mut v = self.numbers.pop().unwrap_or_default();
        v.clear();
        v
    }

    fn flags(&mut self) -> Vec<bool> {
        let mut v = self.flags.pop().unwrap_or_default();
        v.clear();
        v
    }

    /// `e` for every household or every member of `x`, into `out`.
    pub fn bool(&mut self, e: &BoolExpr, x: &Columns, level: Level, out: &mut Vec<bool>) {
        out.clear();
        match e {
            &BoolExpr::Const(b) => out.resize(rows(x, level), b),
            &BoolExpr::Col(src) => {
                self.with_values(src, x, level, |v| out.extend(v.iter().map(|&v| v != 0.0)))
            }
            BoolExpr::Not(a) => {
                self.bool(a, x, level, out);
                out.iter_mut().for_each(|o| *o = !*o);
            }
            BoolExpr::And(a, b) | BoolExpr::Or(a, b) | BoolExpr::Same(a, b, _) => {
                self.bool(a, x, level, out);
                let mut other = self.flags();
                self.bool(b, x, level, &mut other);
                let pairs = out.iter_mut().zip(&other);
                match e {
                    BoolExpr::And(..) => pairs.for_each(|(o, &b)| *o = *o && b),
                    BoolExpr::Or(..) => pairs.for_each(|(o, &b)| *o = *o || b),
                    &BoolExpr::Same(_, _, negated) => pairs.for_each(|(o, &b)| *o = (*o == b) != negated),
                    _ => {}
                }
                self.flags.push(other);
            }
            BoolExpr::Cmp(op, a, b) => {
                let (mut left, mut right) = (self.numbers(), self.numbers());
                self.num(a, x, level, &mut left);
                self.num(b, x, level, &mut right);
                compare(*op, &left, |i| right[i], out);
                self.numbers.push(left);
                self.numbers.push(right);
            }
            &BoolExpr::ColCmp(op, src, c) => self.with_values(src, x, level, |v| compare(op, v, |_| c, out)),
            &BoolExpr::OneOf(src, mask) => self.with_values(src, x, level, |v| {
                out.extend(v.iter().map(|&v| {
                    let code = v as u32;
                    code < 64 && mask & (1u64 << code) != 0
                }))
            }),
            BoolExpr::NumIn(a, list) => {
                let mut v = self.numbers();
                self.num(a, x, level, &mut v);
                out.extend(v.iter().map(|v| list.contains(v)));
                self.numbers.push(v);
            }
            BoolExpr::Any(c) | BoolExpr::All(c) => {
                let any = matches!(e, BoolExpr::Any(_));
                let mut per_member = self.flags();
                self.bool(c, x, Level::Member, &mut per_member);
                let households = (0..x.len()).map(|h| {
                    let members = &per_member[x.span(h)];
                    if any {
                        members.iter().any(|&m| m)
                    } else {
                        members.iter().all(|&m| m)
                    }
                });
                match level {
                    Level::Household => out.extend(households),
                    Level::Member => {
                        let mut per_household = self.flags();
                        per_household.extend(households);
                        out.extend(x.owner.iter().map(|&h| per_household[h]));
                        self.flags.push(per_household);
                    }
                }
                self.flags.push(per_member);
            }
            BoolExpr::Shared(a) => self.bool(a, x, level, out),
        }
    }

    /// `e` for every household or every member of `x`, into `out`.
    pub fn num(&mut self, e: &NumExpr, x: &Columns, level: Level, out: &mut Vec<f64>) {
        out.clear();
        match e {
            &NumExpr::Const(v) => out.resize(rows(x, level), v),
            &NumExpr::Col(src) => self.with_values(src, x, level, |v| out.extend_from_slice(v)),
            NumExpr::Members => {
                let count = |h: usize| x.span(h).len() as f64;
                match level {
                    Level::Household => out.extend((0..x.len()).map(count)),
                    Level::Member => out.extend(x.owner.iter().map(|&h| count(h))),
                }
            }
            NumExpr::Neg(a) | NumExpr::Abs(a) => {
                self.num(a, x, level, out);
                match e {
                    NumExpr::Neg(_) => out.iter_mut().for_each(|v| *v = -*v),
                    _ => out.iter_mut().for_each(|v| *v = v.abs()),
                }
            }
            NumExpr::Arith(_, a, b) | NumExpr::Min(a, b) | NumExpr::Max(a, b) => {
                self.num(a, x, level, out);
                let mut other = self.numbers();
                self.num(b, x, level, &mut other);
                let pairs = out.iter_mut().zip(&other);
                match e {
                    NumExpr::Arith(ArithOp::Add, ..) => pairs.for_each(|(a, &b)| *a += b),
                    NumExpr::Arith(ArithOp::Sub, ..) => pairs.for_each(|(a, &b)| *a -= b),
                    NumExpr::Arith(ArithOp::Mul, ..) => pairs.for_each(|(a, &b)| *a *= b),
                    NumExpr::Arith(ArithOp::Div, ..) => pairs.for_each(|(a, &b)| *a /= b),
                    NumExpr::Min(..) => pairs.for_each(|(a, &b)| *a = a.min(b)),
                    _ => pairs.for_each(|(a, &b)| *a = a.max(b)),
                }
                self.numbers.push(other);
            }
            NumExpr::If(c, a, b) => {
                let mut test = self.flags();
                self.bool(c, x, level, &mut test);
                self.num(a, x, level, out);
                let mut other = self.numbers();
                self.num(b, x, level, &mut other);
                for ((v, &t), &o) in out.iter_mut().zip(&test).zip(&other) {
                    if !t {
                        *v = o;
                    }
                }
                self.numbers.push(other);
                self.flags.push(test);
            }
            NumExpr::Count(c) => {
                let mut per_member = self.flags();
                self.bool(c, x, Level::Member, &mut per_member);
                let households = |h: usize| per_member[x.span(h)].iter().filter(|&&m| m).count() as f64;
                self.per_household(x, level, households, out);
                self.flags.push(per_member);
            }
            NumExpr::Sum(a) | NumExpr::MemberMin(a) | NumExpr::MemberMax(a) => {
                let mut per_member = self.numbers();
                self.num(a, x, Level::Member, &mut per_member);
                let households = |h: usize| {
                    let members = per_member[x.span(h)].iter().copied();
                    match e {
                        NumExpr::Sum(_) => members.sum(),
                        NumExpr::MemberMin(_) => members.fold(f64::INFINITY, f64::min),
                        _ => members.fold(f64::NEG_INFINITY, f64::max),
                    }
                };
                self.per_household(x, level, households, out);
                self.numbers.push(per_member);
            }
            NumExpr::Shared(a) => self.num(a, x, level, out),
        }
    }

    /// A value per household, at `level` (repeated for each member at the
    /// member level).
    fn per_household(&mut self, x: &Columns, level: Level, value: impl Fn(usize) -> f64, out: &mut Vec<f64>) {
        match level {
            Level::Household => out.extend((0..x.len()).map(value)),
            Level::Member => {
                let mut households = self.numbers();
                households.extend((0..x.len()).map(value));
                out.extend(x.owner.iter().map(|&h| households[h]));
                self.numbers.push(households);
            }
        }
    }
}

/// Rows at `level`.
fn rows(x: &Columns, level: Level) -> usize {
    match level {
        Level::Household => x.len(),
        Level::Member => x.owner.len(),
    }
}

/// A column at `level`: a household column is repeated for each member at
/// the member level; a member column at the household level is the first
/// member's (what the one-household evaluators read for member 0), not a
/// number for a household without members.
fn read(src: Src, x: &Columns, level: Level, out: &mut Vec<f64>) {
    out.clear();
    match (src, level) {
        (Src::Household(slot), Level::Household) => {
            let (slot, stride) = (slot as usize, x.household_stride);
            out.extend((0..x.len()).map(|h| x.household[h * stride + slot]))
        }
        (Src::Household(slot), Level::Member) => {
            let (slot, stride) = (slot as usize, x.household_stride);
            out.extend(x.owner.iter().map(|&h| x.household[h * stride + slot]))
        }
        (Src::Member(slot), Level::Member) => {
            let (slot, stride) = (slot as usize, x.member_stride);
            out.extend((0..x.owner.len()).map(|m| x.members[m * stride + slot]))
        }
        (Src::Member(slot), Level::Household) => {
            let (slot, stride) = (slot as usize, x.member_stride);
            out.extend((0..x.len()).map(|h| {
                let first = x.starts[h];
                if first < x.starts[h + 1] {
                    x.members[first * stride + slot]
                } else {
                    f64::NAN
                }
            }))
        }
    }
}

/// Rows of `stride` values (`rows` of them) as columns, into `out`.
fn transpose(values: &[f64], stride: usize, rows: usize, out: &mut Vec<f64>) {
    out.clear();
    if stride == 0 {
        return;
    }
    let rows = &values[..rows.min(values.len() / stride) * stride];
    out.reserve(rows.len());
    for c in 0..stride {
        out.extend(rows.chunks_exact(stride).map(|row| row[c]));
    }
}

/// `left[i] op right(i)` for every `i`, one loop per operator.
fn compare(op: CmpOp, left: &[f64], right: impl Fn(usize) -> f64, out: &mut Vec<bool>) {
    let each = left.iter().enumerate();
    match op {
        CmpOp::Eq => out.extend(each.map(|(i, &a)| a == right(i))),
        CmpOp::Ne => out.extend(each.map(|(i, &a)| a != right(i))),
        CmpOp::Lt => out.extend(each.map(|(i, &a)| a < right(i))),
        CmpOp::Le => out.extend(each.map(|(i, &a)| a <= right(i))),
        CmpOp::Gt => out.extend(each.map(|(i, &a)| a > right(i))),
        CmpOp::Ge => out.extend(each.map(|(i, &a)| a >= right(i))),
    }
}
