//! The compiled, typed form of a condition, and its evaluation.
//!
//! The checker turns text into these trees once, when the model loads; the
//! scorer walks them for every household. Every value is an `f64` at run
//! time (yes/no as 0 or 1, a category as the index of its value in the
//! column's declared list, a date as a day number), so a household's inputs
//! are one flat slice of numbers; the types were checked before.

use std::sync::Arc;

/// Where a value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Src {
    /// The household's value in slot `n` of its row.
    Household(u32),
    /// The current member's value in slot `n` of the member row.
    Member(u32),
}

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

/// Arithmetic operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArithOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/` (IEEE: `x / 0` is infinite, `0 / 0` is not a number and compares false)
    Div,
}

/// A compiled yes/no expression.
#[derive(Debug, Clone, PartialEq)]
pub enum BoolExpr {
    /// A constant.
    Const(bool),
    /// A yes/no column.
    Col(Src),
    /// `not x`
    Not(Box<BoolExpr>),
    /// `a and b`
    And(Box<BoolExpr>, Box<BoolExpr>),
    /// `a or b`
    Or(Box<BoolExpr>, Box<BoolExpr>),
    /// `a == b` between yes/no values (`negated` for `!=`).
    Same(Box<BoolExpr>, Box<BoolExpr>, bool),
    /// A numeric or date comparison.
    Cmp(CmpOp, NumExpr, NumExpr),
    /// A column compared with a constant: `Cmp(op, Col(src), Const(c))`,
    /// the commonest condition, in one step.
    ColCmp(CmpOp, Src, f64),
    /// A category column holds one of the values whose bits are set.
    OneOf(Src, u64),
    /// A number is one of the listed values.
    NumIn(NumExpr, Vec<f64>),
    /// At least one member satisfies the member-level expression.
    Any(Box<BoolExpr>),
    /// Every member satisfies the member-level expression.
    All(Box<BoolExpr>),
    /// A derived value used in several places: compiled once, held once,
    /// every use pointing at the same tree.
    Shared(Arc<BoolExpr>),
}

/// A compiled numeric (or date) expression.
#[derive(Debug, Clone, PartialEq)]
pub enum NumExpr {
    /// A constant (a literal or a model parameter).
    Const(f64),
    /// A numeric, date or category column.
    Col(Src),
    /// The number of co-resident members.
    Members,
    /// `-x`
    Neg(Box<NumExpr>),
    /// `a op b`
    Arith(ArithOp, Box<NumExpr>, Box<NumExpr>),
    /// `min(a, b)`
    Min(Box<NumExpr>, Box<NumExpr>),
    /// `max(a, b)`
    Max(Box<NumExpr>, Box<NumExpr>),
    /// `abs(x)`
    Abs(Box<NumExpr>),
    /// `if(c, a, b)`
    If(Box<BoolExpr>, Box<NumExpr>, Box<NumExpr>),
    /// `count(c)`: members satisfying `c`.
    Count(Box<BoolExpr>),
    /// `sum(x)` over members.
    Sum(Box<NumExpr>),
    /// `min(x)` over members (infinite when there are none).
    MemberMin(Box<NumExpr>),
    /// `max(x)` over members (minus infinity when there are none).
    MemberMax(Box<NumExpr>),
    /// A derived value used in several places (see [`BoolExpr::Shared`]).
    Shared(Arc<NumExpr>),
}

/// One household's inputs, as the evaluator sees them.
#[derive(Debug, Clone, Copy)]
pub struct Inputs<'a> {
    /// The household row's declared columns, in slot order.
    pub household: &'a [f64],
    /// The member rows' declared columns, row after row.
    pub members: &'a [f64],
    /// Number of declared member columns (the length of one member row).
    pub stride: usize,
    /// Number of members (`members.len() / stride` when `stride > 0`).
    pub count: usize,
}

impl Inputs<'_> {
    /// Number of members.
    pub fn member_count(&self) -> usize {
        self.count
    }

    #[inline]
    fn read(&self, src: Src, member: usize) -> f64 {
        match src {
            Src::Household(slot) => self.household[slot as usize],
            Src::Member(slot) => self.members[member * self.stride + slot as usize],
        }
    }
}

impl CmpOp {
    #[inline]
    pub(super) fn holds(self, a: f64, b: f64) -> bool {
        match self {
            CmpOp::Eq => a == b,
            CmpOp::Ne => a != b,
            CmpOp::Lt => a < b,
            CmpOp::Le => a <= b,
            CmpOp::Gt => a > b,
            CmpOp::Ge => a >= b,
        }
    }

    /// The operator with its sides swapped: `a op b` is `b op.flipped() a`.
    fn flipped(self) -> CmpOp {
        match self {
            CmpOp::Lt => CmpOp::Gt,
            CmpOp::Le => CmpOp::Ge,
            CmpOp::Gt => CmpOp::Lt,
            CmpOp::Ge => CmpOp::Le,
            op => op,
        }
    }
}

impl BoolExpr {
    /// The same condition in quicker steps: a column compared with a
    /// constant becomes one [`BoolExpr::ColCmp`]. Evaluation gives the
    /// same answer for every input (a comparison with its sides swapped is
    /// the same IEEE comparison).
    pub fn optimised(self) -> BoolExpr {
        let boxed = |e: Box<BoolExpr>| Box::new(e.optimised());
        match self {
            BoolExpr::Not(a) => BoolExpr::Not(boxed(a)),
            BoolExpr::And(a, b) => BoolExpr::And(boxed(a), boxed(b)),
            BoolExpr::Or(a, b) => BoolExpr::Or(boxed(a), boxed(b)),
            BoolExpr::Same(a, b, negated) => BoolExpr::Same(boxed(a), boxed(b), negated),
            BoolExpr::Cmp(op, NumExpr::Col(src), NumExpr::Const(c)) => BoolExpr::ColCmp(op, src, c),
            BoolExpr::Cmp(op, NumExpr::Const(c), NumExpr::Col(src)) => BoolExpr::ColCmp(op.flipped(), src, c),
            BoolExpr::Cmp(op, a, b) => BoolExpr::Cmp(op, a.optimised(), b.optimised()),
            BoolExpr::NumIn(a, list) => BoolExpr::NumIn(a.optimised(), list),
            BoolExpr::Any(c) => BoolExpr::Any(boxed(c)),
            BoolExpr::All(c) => BoolExpr::All(boxed(c)),
            // optimised once, when the derived value was compiled
            e @ (BoolExpr::Const(_)
            | BoolExpr::Col(_)
            | BoolExpr::ColCmp(..)
            | BoolExpr::OneOf(..)
            | BoolExpr::Shared(_)) => e,
        }
    }

    /// Evaluates for a household (member-level expressions read member
    /// `member`; household-level ones ignore it).
    pub fn eval(&self, x: &Inputs, member: usize) -> bool {
        match self {
            BoolExpr::Const(b) => *b,
            BoolExpr::Col(src) => x.read(*src, member) != 0.0,
            BoolExpr::Not(a) => !a.eval(x, member),
            BoolExpr::And(a, b) => a.eval(x, member) && b.eval(x, member),
            BoolExpr::Or(a, b) => a.eval(x, member) || b.eval(x, member),
            BoolExpr::Same(a, b, negated) => (a.eval(x, member) == b.eval(x, member)) != *negated,
            BoolExpr::Cmp(op, a, b) => op.holds(a.eval(x, member), b.eval(x, member)),
            BoolExpr::ColCmp(op, src, c) => op.holds(x.read(*src, member), *c),
            BoolExpr::OneOf(src, mask) => {
                let code = x.read(*src, member) as u32;
                code < 64 && mask & (1u64 << code) != 0
            }
            BoolExpr::NumIn(a, list) => {
                let a = a.eval(x, member);
                list.contains(&a)
            }
            BoolExpr::Any(c) => (0..x.member_count()).any(|m| c.eval(x, m)),
            BoolExpr::All(c) => (0..x.member_count()).all(|m| c.eval(x, m)),
            BoolExpr::Shared(a) => a.eval(x, member),
        }
    }
}

impl NumExpr {
    /// The same expression with its conditions optimised (see
    /// [`BoolExpr::optimised`]).
    pub fn optimised(self) -> NumExpr {
        let boxed = |e: Box<NumExpr>| Box::new(e.optimised());
        match self {
            NumExpr::Neg(a) => NumExpr::Neg(boxed(a)),
            NumExpr::Arith(op, a, b) => NumExpr::Arith(op, boxed(a), boxed(b)),
            NumExpr::Min(a, b) => NumExpr::Min(boxed(a), boxed(b)),
            NumExpr::Max(a, b) => NumExpr::Max(boxed(a), boxed(b)),
            NumExpr::Abs(a) => NumExpr::Abs(boxed(a)),
            NumExpr::If(c, a, b) => NumExpr::If(Box::new(c.optimised()), boxed(a), boxed(b)),
            NumExpr::Count(c) => NumExpr::Count(Box::new(c.optimised())),
            NumExpr::Sum(a) => NumExpr::Sum(boxed(a)),
            NumExpr::MemberMin(a) => NumExpr::MemberMin(boxed(a)),
            NumExpr::MemberMax(a) => NumExpr::MemberMax(boxed(a)),
            e @ (NumExpr::Const(_) | NumExpr::Col(_) | NumExpr::Members | NumExpr::Shared(_)) => e,
        }
    }

    /// Evaluates for a household (see [`BoolExpr::eval`]).
    pub fn eval(&self, x: &Inputs, member: usize) -> f64 {
        match self {
            NumExpr::Const(v) => *v,
            NumExpr::Col(src) => x.read(*src, member),
            NumExpr::Members => x.member_count() as f64,
            NumExpr::Neg(a) => -a.eval(x, member),
            NumExpr::Arith(op, a, b) => {
                let (a, b) = (a.eval(x, member), b.eval(x, member));
                match op {
                    ArithOp::Add => a + b,
                    ArithOp::Sub => a - b,
                    ArithOp::Mul => a * b,
                    ArithOp::Div => a / b,
                }
            }
            NumExpr::Min(a, b) => a.eval(x, member).min(b.eval(x, member)),
            NumExpr::Max(a, b) => a.eval(x, member).max(b.eval(x, member)),
            NumExpr::Abs(a) => a.eval(x, member).abs(),
            NumExpr::If(c, a, b) => {
                if c.eval(x, member) {
                    a.eval(x, member)
                } else {
                    b.eval(x, member)
                }
            }
            NumExpr::Count(c) => (0..x.member_count()).filter(|&m| c.eval(x, m)).count() as f64,
            NumExpr::Sum(a) => (0..x.member_count()).map(|m| a.eval(x, m)).sum(),
            NumExpr::MemberMin(a) => {
                (0..x.member_count()).map(|m| a.eval(x, m)).fold(f64::INFINITY, f64::min)
            }
            NumExpr::MemberMax(a) => {
                (0..x.member_count()).map(|m| a.eval(x, m)).fold(f64::NEG_INFINITY, f64::max)
            }
            NumExpr::Shared(a) => a.eval(x, member),
        }
    }
}
