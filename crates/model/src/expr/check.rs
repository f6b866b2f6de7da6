//! The checker: resolves names, checks types and compiles a syntax tree into
//! the typed form that the scorer evaluates.

use std::cell::RefCell;
use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;

use super::compiled::{ArithOp, BoolExpr, CmpOp, NumExpr, Src};
use super::parse::{Ast, AstKind, BinOp, ExprError};
use hhrisk_tables::date::parse_date;

/// The value types of the condition language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    /// Yes or no.
    Bool,
    /// A whole number.
    Int,
    /// A decimal number.
    Dec,
    /// A calendar date.
    Date,
    /// A value of a category column (index into [`Symbols::categories`]).
    Cat(usize),
}

/// Where a condition is evaluated: once per household, or once per member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Household columns, parameters and aggregates over members.
    Household,
    /// The member's columns, its household's columns and parameters.
    Member,
}

/// What a name stands for.
#[derive(Debug, Clone, PartialEq)]
pub enum Symbol {
    /// A declared input column: the file it is in, its slot and its type.
    Column {
        /// Which file holds the column.
        scope: Scope,
        /// Position among the declared columns of that file.
        slot: u32,
        /// Its type.
        ty: Type,
    },
    /// A model parameter: a constant (dates as day numbers, yes/no as 0/1).
    Param {
        /// Its value.
        value: f64,
        /// Its type (never `Cat`).
        ty: Type,
    },
}

/// Everything names can refer to, and the derived values yet to compile.
#[derive(Debug, Default)]
pub struct Symbols {
    names: HashMap<String, Symbol>,
    /// For each category type, the column it belongs to and its values.
    pub categories: Vec<(String, Vec<String>)>,
    derived: HashMap<String, (Ast, Scope)>,
}

impl Symbols {
    /// Declares a column or parameter. Returns `false` if the name is taken.
    pub fn define(&mut self, name: &str, symbol: Symbol) -> bool {
        if self.is_defined(name) {
            return false;
        }
        self.names.insert(name.to_string(), symbol);
        true
    }

    /// Declares a category type: a column's list of allowed values.
    pub fn add_category(&mut self, column: &str, values: Vec<String>) -> usize {
        self.categories.push((column.to_string(), values));
        self.categories.len() - 1
    }

    /// Declares a derived value, compiled when first used. Returns `false`
    /// if the name is taken.
    pub fn define_derived(&mut self, name: &str, ast: Ast, scope: Scope) -> bool {
        if self.is_defined(name) {
            return false;
        }
        self.derived.insert(name.to_string(), (ast, scope));
        true
    }

    /// Whether a name is already a column, parameter, derived value or
    /// built-in.
    pub fn is_defined(&self, name: &str) -> bool {
        self.names.contains_key(name) || self.derived.contains_key(name) || RESERVED.contains(&name)
    }

    fn all_names(&self) -> impl Iterator<Item = &str> {
        self.names.keys().chain(self.derived.keys()).map(String::as_str)
    }
}

/// Names with a fixed meaning in the language.
pub const RESERVED: &[&str] = &[
    "members",
    "and",
    "or",
    "not",
    "in",
    "true",
    "false",
    "count",
    "any",
    "all",
    "sum",
    "min",
    "max",
    "mean",
    "per_capita",
    "abs",
    "if",
    "days_between",
    "date",
];

/// A compiled expression of any type.
#[derive(Debug, Clone, PartialEq)]
pub enum Typed {
    /// A yes/no expression.
    Bool(BoolExpr),
    /// A number or date, with its type (`Int`, `Dec` or `Date`).
    Num(NumExpr, Type),
    /// A category column.
    Cat(Src, usize),
    /// A text literal (only meaningful next to a category or date).
    Str(String),
}

/// Compiles conditions against a fixed set of symbols. Derived values are
/// compiled once, on first use, and checked for cycles.
pub struct Checker<'a> {
    sym: &'a Symbols,
    done: RefCell<HashMap<String, Typed>>,
    stack: RefCell<Vec<String>>,
    /// Nodes of each derived value with the derived values it uses written
    /// out, as the compiled tree holds them.
    sizes: RefCell<HashMap<String, (u64, u32)>>,
}

/// Most steps (nodes visited) one evaluation of a condition or derived
/// value may take, with the derived values it uses counted at each use:
/// far above any real condition (tens of nodes), far below what makes
/// scoring crawl (derived values that each use the one before twice
/// double the work at every step).
pub const MAX_NODES: u64 = 100_000;

/// Derived values of at most this many nodes are copied into each use;
/// larger ones are compiled once and shared ([`BoolExpr::Shared`]).
const INLINE_NODES: u64 = 32;

impl<'a> Checker<'a> {
    /// A checker over these symbols.
    pub fn new(sym: &'a Symbols) -> Self {
        Checker { sym, done: RefCell::default(), stack: RefCell::default(), sizes: RefCell::default() }
    }

    /// Nodes of `ast`, and its depth, with the derived values it uses
    /// written out (saturating; a cycle counts once, and is reported by
    /// the compiler).
    fn expanded(&self, ast: &Ast) -> (u64, u32) {
        let add = |(n, d): (u64, u32), (m, e): (u64, u32)| (n.saturating_add(m), d.max(e));
        let (nodes, depth) = match &ast.kind {
            AstKind::Name(name) => {
                let Some((derived, _)) = self.sym.derived.get(name) else { return (1, 1) };
                if let Some(&size) = self.sizes.borrow().get(name) {
                    return size;
                }
                // counted as one node while its own size is worked out: a
                // cycle ends there
                self.sizes.borrow_mut().insert(name.clone(), (1, 1));
                let size = self.expanded(derived);
                self.sizes.borrow_mut().insert(name.clone(), size);
                return size;
            }
            AstKind::Num(_) | AstKind::Str(_) | AstKind::Bool(_) => (0, 0),
            AstKind::Neg(x) | AstKind::Not(x) => self.expanded(x),
            AstKind::Binary(_, l, r) => add(self.expanded(l), self.expanded(r)),
            AstKind::Call(_, args) => args.iter().fold((0, 0), |n, a| add(n, self.expanded(a))),
            AstKind::In { value, list, .. } => {
                list.iter().fold(self.expanded(value), |n, a| add(n, self.expanded(a)))
            }
        };
        (nodes.saturating_add(1), depth.saturating_add(1))
    }

    /// Steps one evaluation of `ast` takes (nodes visited, each use of a
    /// derived value counting its own), saturating.
    pub fn steps(&self, ast: &Ast) -> u64 {
        self.expanded(ast).0
    }

    /// Refuses `ast` when, with its derived values written out, it would
    /// compile into more than [`MAX_NODES`] nodes or nest deeper than
    /// [`MAX_DEPTH`](super::MAX_DEPTH).
    fn bounded(&self, ast: &Ast) -> Result<(), ExprError> {
        let (nodes, depth) = self.expanded(ast);
        let problem = if nodes > MAX_NODES {
            format!(
                "with the derived values it uses, evaluating this takes {nodes} steps for each household, \
                 more than {MAX_NODES} (derived values that use the one before twice double the work at \
                 every step); compute the value in fewer steps"
            )
        } else if depth > super::MAX_DEPTH {
            format!(
                "with the derived values it uses written out, this nests {depth} levels deep, more than {}; \
                 use fewer derived values one inside another",
                super::MAX_DEPTH
            )
        } else {
            return Ok(());
        };
        Err(ExprError::new(ast.span.clone(), problem))
    }

    /// Compiles a condition that must be yes/no.
    pub fn condition(&self, ast: &Ast, scope: Scope) -> Result<BoolExpr, ExprError> {
        self.bounded(ast)?;
        match self.compile(ast, scope)? {
            Typed::Bool(b) => Ok(b.optimised()),
            other => Err(ExprError::new(
                ast.span.clone(),
                format!(
                    "a condition must be yes or no, but this is {}: compare it, e.g. `... > 0`",
                    self.describe(&other)
                ),
            )),
        }
    }

    /// Compiles a derived value by name (to report its own mistakes once,
    /// at its definition).
    pub fn derived(&self, name: &str, use_span: Range<usize>) -> Result<Typed, ExprError> {
        if let Some(done) = self.done.borrow().get(name) {
            return Ok(done.clone());
        }
        let (ast, scope) = &self.sym.derived[name];
        self.bounded(ast).map_err(|e| ExprError { within: Some(name.to_string()), ..e })?;
        {
            let mut stack = self.stack.borrow_mut();
            if let Some(at) = stack.iter().position(|n| n == name) {
                let cycle: Vec<&str> = stack[at..].iter().map(String::as_str).chain([name]).collect();
                let err = ExprError::new(
                    use_span,
                    format!(
                        "derived values refer to each other in a cycle: {}; break the cycle",
                        cycle.join(" → ")
                    ),
                );
                return Err(ExprError { within: stack.last().cloned(), ..err });
            }
            stack.push(name.to_string());
        }
        let result = self
            .compile(ast, *scope)
            .map_err(|e| ExprError { within: e.within.or_else(|| Some(name.to_string())), ..e });
        self.stack.borrow_mut().pop();
        let typed = match result? {
            // a value of more than a few nodes is held once and shared by
            // every use; a small one is copied, so that a use can join the
            // tree around it (`pc_income < 5000` as one comparison)
            typed if self.expanded(ast).0 <= INLINE_NODES => typed,
            Typed::Bool(b) => Typed::Bool(BoolExpr::Shared(Arc::new(b.optimised()))),
            Typed::Num(e, ty) => Typed::Num(NumExpr::Shared(Arc::new(e.optimised())), ty),
            typed => typed,
        };
        self.done.borrow_mut().insert(name.to_string(), typed.clone());
        Ok(typed)
    }

    fn describe(&self, t: &Typed) -> String {
        match t {
            Typed::Bool(_) => "yes/no".into(),
            Typed::Num(_, ty) => type_name(*ty, self.sym),
            Typed::Cat(_, k) => type_name(Type::Cat(*k), self.sym),
            Typed::Str(s) => format!("the text \"{s}\""),
        }
    }

    fn compile(&self, ast: &Ast, scope: Scope) -> Result<Typed, ExprError> {
        let span = ast.span.clone();
        let err = |msg: String| ExprError::new(span.clone(), msg);
        Ok(match &ast.kind {
            AstKind::Num(n) => {
                Typed::Num(NumExpr::Const(*n), if n.fract() == 0.0 { Type::Int } else { Type::Dec })
            }
            AstKind::Str(s) => Typed::Str(s.clone()),
            AstKind::Bool(b) => Typed::Bool(BoolExpr::Const(*b)),
            AstKind::Name(name) => self.name(name, scope, span.clone())?,
            AstKind::Call(f, args) => self.call(f, args, scope, span.clone())?,
            AstKind::Neg(inner) => match self.compile(inner, scope)? {
                Typed::Num(NumExpr::Const(v), ty) if ty != Type::Date => Typed::Num(NumExpr::Const(-v), ty),
                Typed::Num(e, ty) if ty != Type::Date => Typed::Num(NumExpr::Neg(Box::new(e)), ty),
                other => return Err(err(format!("`-` needs a number, not {}", self.describe(&other)))),
            },
            AstKind::Not(inner) => Typed::Bool(BoolExpr::Not(Box::new(self.boolean(inner, scope, "not")?))),
            AstKind::Binary(op @ (BinOp::And | BinOp::Or), l, r) => {
                let (l, r) = (self.boolean(l, scope, op.symbol())?, self.boolean(r, scope, op.symbol())?);
                let (l, r) = (Box::new(l), Box::new(r));
                Typed::Bool(if *op == BinOp::And { BoolExpr::And(l, r) } else { BoolExpr::Or(l, r) })
            }
            AstKind::Binary(op @ (BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div), l, r) => {
                let arith = match op {
                    BinOp::Add => ArithOp::Add,
                    BinOp::Sub => ArithOp::Sub,
                    BinOp::Mul => ArithOp::Mul,
                    _ => ArithOp::Div,
                };
                let (a, ta) = self.number(l, scope, op.symbol())?;
                let (b, tb) = self.number(r, scope, op.symbol())?;
                if arith == ArithOp::Div && b == NumExpr::Const(0.0) {
                    return Err(ExprError::new(
                        r.span.clone(),
                        "division by zero: this divisor is always 0 (check the parameter or the literal)",
                    ));
                }
                let ty = if ta == Type::Int && tb == Type::Int && arith != ArithOp::Div {
                    Type::Int
                } else {
                    Type::Dec
                };
                let e = match (&a, &b) {
                    (NumExpr::Const(x), NumExpr::Const(y)) => NumExpr::Const(match arith {
                        ArithOp::Add => x + y,
                        ArithOp::Sub => x - y,
                        ArithOp::Mul => x * y,
                        ArithOp::Div => x / y,
                    }),
                    _ => NumExpr::Arith(arith, Box::new(a), Box::new(b)),
                };
                Typed::Num(e, ty)
            }
            AstKind::Binary(op, l, r) => self.comparison(*op, l, r, scope, span.clone())?,
            AstKind::In { value, list, negated } => {
                let b = self.membership(value, list, scope)?;
                Typed::Bool(if *negated { BoolExpr::Not(Box::new(b)) } else { b })
            }
        })
    }

    fn boolean(&self, ast: &Ast, scope: Scope, what: &str) -> Result<BoolExpr, ExprError> {
        match self.compile(ast, scope)? {
            Typed::Bool(b) => Ok(b),
            other => Err(ExprError::new(
                ast.span.clone(),
                format!("`{what}` needs yes/no values, but this is {}", self.describe(&other)),
            )),
        }
    }

    fn number(&self, ast: &Ast, scope: Scope, what: &str) -> Result<(NumExpr, Type), ExprError> {
        match self.compile(ast, scope)? {
            Typed::Num(e, ty) if ty != Type::Date => Ok((e, ty)),
            Typed::Num(_, _) => Err(ExprError::new(
                ast.span.clone(),
                format!(
                    "`{what}` needs numbers, but this is a date: use days_between(a, b) for a number of days"
                ),
            )),
            other => Err(ExprError::new(
                ast.span.clone(),
                format!("`{what}` needs numbers, but this is {}", self.describe(&other)),
            )),
        }
    }

    fn name(&self, name: &str, scope: Scope, span: Range<usize>) -> Result<Typed, ExprError> {
        if name == "members" {
            return Ok(Typed::Num(NumExpr::Members, Type::Int));
        }
        if let Some(symbol) = self.sym.names.get(name) {
            return Ok(match *symbol {
                Symbol::Param { value, ty: Type::Bool } => Typed::Bool(BoolExpr::Const(value != 0.0)),
                Symbol::Param { value, ty } => Typed::Num(NumExpr::Const(value), ty),
                Symbol::Column { scope: Scope::Member, .. } if scope == Scope::Household => {
                    return Err(ExprError::new(
                        span,
                        format!(
                            "`{name}` is a member column: use it inside count(..), any(..), all(..), sum(..), \
                             min(..) or max(..), or make the item count per member (per = \"member\")"
                        ),
                    ));
                }
                Symbol::Column { scope: file, slot, ty } => {
                    let src = if file == Scope::Household { Src::Household(slot) } else { Src::Member(slot) };
                    match ty {
                        Type::Bool => Typed::Bool(BoolExpr::Col(src)),
                        Type::Cat(k) => Typed::Cat(src, k),
                        _ => Typed::Num(NumExpr::Col(src), ty),
                    }
                }
            });
        }
        if let Some((_, dscope)) = self.sym.derived.get(name) {
            if *dscope == Scope::Member && scope == Scope::Household {
                return Err(ExprError::new(
                    span,
                    format!(
                        "`{name}` is a per-member derived value: use it inside count(..), any(..), sum(..) …"
                    ),
                ));
            }
            return self.derived(name, span);
        }
        let hint = closest(name, self.sym.all_names().chain(FUNCTIONS.iter().copied()).chain(["members"]))
            .map(|c| format!(" (did you mean `{c}`?)"))
            .unwrap_or_default();
        Err(ExprError::new(
            span,
            format!("unknown name `{name}`{hint}: declare it as a column, parameter or derived value"),
        ))
    }

    fn call(&self, f: &str, args: &[Ast], scope: Scope, span: Range<usize>) -> Result<Typed, ExprError> {
        let arity = |n: usize, usage: &str| {
            if args.len() == n {
                Ok(())
            } else {
                Err(ExprError::new(span.clone(), format!("{f} takes {n} argument(s): {usage}")))
            }
        };
        let aggregate = matches!(f, "count" | "any" | "all" | "sum" | "mean")
            || (matches!(f, "min" | "max") && args.len() == 1);
        if aggregate {
            arity(1, &format!("{f}(<expression over a member>)"))?;
            if scope == Scope::Member {
                return Err(ExprError::new(
                    span,
                    format!("{f}(..) runs over the household's members and cannot be used inside a per-member condition"),
                ));
            }
            let arg = &args[0];
            return Ok(match f {
                "count" => {
                    Typed::Num(NumExpr::Count(Box::new(self.boolean(arg, Scope::Member, f)?)), Type::Int)
                }
                "any" => Typed::Bool(BoolExpr::Any(Box::new(self.boolean(arg, Scope::Member, f)?))),
                "all" => Typed::Bool(BoolExpr::All(Box::new(self.boolean(arg, Scope::Member, f)?))),
                _ => {
                    let (e, ty) = self.number(arg, Scope::Member, f)?;
                    let e = Box::new(e);
                    match f {
                        "sum" => Typed::Num(NumExpr::Sum(e), ty),
                        "mean" => Typed::Num(
                            NumExpr::Arith(
                                ArithOp::Div,
                                Box::new(NumExpr::Sum(e)),
                                Box::new(NumExpr::Members),
                            ),
                            Type::Dec,
                        ),
                        "min" => Typed::Num(NumExpr::MemberMin(e), ty),
                        _ => Typed::Num(NumExpr::MemberMax(e), ty),
                    }
                }
            });
        }
        match f {
            "per_capita" => {
                arity(1, "per_capita(<household amount>)")?;
                let (e, _) = self.number(&args[0], scope, f)?;
                Ok(Typed::Num(
                    NumExpr::Arith(ArithOp::Div, Box::new(e), Box::new(NumExpr::Members)),
                    Type::Dec,
                ))
            }
            "min" | "max" => {
                arity(2, &format!("{f}(a, b), or {f}(x) over members"))?;
                let (a, ta) = self.number(&args[0], scope, f)?;
                let (b, tb) = self.number(&args[1], scope, f)?;
                let ty = if ta == Type::Int && tb == Type::Int { Type::Int } else { Type::Dec };
                let (a, b) = (Box::new(a), Box::new(b));
                Ok(Typed::Num(if f == "min" { NumExpr::Min(a, b) } else { NumExpr::Max(a, b) }, ty))
            }
            "abs" => {
                arity(1, "abs(x)")?;
                let (e, ty) = self.number(&args[0], scope, f)?;
                Ok(Typed::Num(NumExpr::Abs(Box::new(e)), ty))
            }
            "if" => {
                arity(3, "if(condition, value if yes, value if no)")?;
                let c = self.boolean(&args[0], scope, f)?;
                let (a, ta) = self.number(&args[1], scope, f)?;
                let (b, tb) = self.number(&args[2], scope, f)?;
                let ty = if ta == Type::Int && tb == Type::Int { Type::Int } else { Type::Dec };
                Ok(Typed::Num(NumExpr::If(Box::new(c), Box::new(a), Box::new(b)), ty))
            }
            "days_between" => {
                arity(2, "days_between(earlier date, later date)")?;
                let a = self.date(&args[0], scope)?;
                let b = self.date(&args[1], scope)?;
                Ok(Typed::Num(NumExpr::Arith(ArithOp::Sub, Box::new(b), Box::new(a)), Type::Int))
            }
            "date" => {
                arity(1, "date(\"2024-06-30\")")?;
                Ok(Typed::Num(self.date(&args[0], scope)?, Type::Date))
            }
            _ => {
                let hint = closest(f, FUNCTIONS.iter().copied())
                    .map(|c| format!(" (did you mean `{c}`?)"))
                    .unwrap_or_default();
                Err(ExprError::new(
                    span,
                    format!("unknown function `{f}`{hint}; the functions are {}", FUNCTIONS.join(", ")),
                ))
            }
        }
    }

    fn date(&self, ast: &Ast, scope: Scope) -> Result<NumExpr, ExprError> {
        match self.compile(ast, scope)? {
            Typed::Num(e, Type::Date) => Ok(e),
            Typed::Str(s) => parse_date(&s).map(|d| NumExpr::Const(f64::from(d))).ok_or_else(|| {
                ExprError::new(ast.span.clone(), format!("\"{s}\" is not a date: write it as \"2024-06-30\""))
            }),
            other => Err(ExprError::new(
                ast.span.clone(),
                format!("expected a date, found {}", self.describe(&other)),
            )),
        }
    }

    fn comparison(
        &self,
        op: BinOp,
        l: &Ast,
        r: &Ast,
        scope: Scope,
        span: Range<usize>,
    ) -> Result<Typed, ExprError> {
        let cmp = match op {
            BinOp::Eq => CmpOp::Eq,
            BinOp::Ne => CmpOp::Ne,
            BinOp::Lt => CmpOp::Lt,
            BinOp::Le => CmpOp::Le,
            BinOp::Gt => CmpOp::Gt,
            _ => CmpOp::Ge,
        };
        let equality = matches!(cmp, CmpOp::Eq | CmpOp::Ne);
        let (a, b) = (self.compile(l, scope)?, self.compile(r, scope)?);
        let mismatch = |a: &Typed, b: &Typed| {
            ExprError::new(
                span.clone(),
                format!(
                    "cannot compare {} with {} using `{}`",
                    self.describe(a),
                    self.describe(b),
                    op.symbol()
                ),
            )
        };
        let b = match (&a, b) {
            (Typed::Num(_, Type::Date), Typed::Str(_)) => Typed::Num(self.date(r, scope)?, Type::Date),
            (_, b) => b,
        };
        let a = match (a, &b) {
            (Typed::Str(_), Typed::Num(_, Type::Date)) => Typed::Num(self.date(l, scope)?, Type::Date),
            (a, _) => a,
        };
        Ok(Typed::Bool(match (a, b) {
            (Typed::Num(x, tx), Typed::Num(y, ty)) if (tx == Type::Date) == (ty == Type::Date) => {
                BoolExpr::Cmp(cmp, x, y)
            }
            (Typed::Bool(x), Typed::Bool(y)) if equality => {
                BoolExpr::Same(Box::new(x), Box::new(y), cmp == CmpOp::Ne)
            }
            (Typed::Cat(src, k), Typed::Str(s)) | (Typed::Str(s), Typed::Cat(src, k)) if equality => {
                let lit = if matches!(l.kind, AstKind::Str(_)) { l } else { r };
                let mask = self.category_bit(k, &s, lit.span.clone())?;
                let one = BoolExpr::OneOf(src, mask);
                if cmp == CmpOp::Ne {
                    BoolExpr::Not(Box::new(one))
                } else {
                    one
                }
            }
            (a @ Typed::Cat(..), b) | (a, b @ Typed::Cat(..)) if !equality => {
                return Err(ExprError::new(
                    span,
                    format!(
                        "categories have no order: compare {} with `==`, `!=` or `in [..]` ({} given)",
                        self.describe(if matches!(a, Typed::Cat(..)) { &a } else { &b }),
                        op.symbol()
                    ),
                ))
            }
            (a, b) => return Err(mismatch(&a, &b)),
        }))
    }

    fn category_bit(&self, k: usize, value: &str, span: Range<usize>) -> Result<u64, ExprError> {
        let (column, values) = &self.sym.categories[k];
        match values.iter().position(|v| v == value) {
            Some(i) => Ok(1u64 << i),
            None => Err(ExprError::new(
                span,
                format!(
                    "\"{value}\" is not a value of column `{column}`; its values are: {}",
                    values.join(", ")
                ),
            )),
        }
    }

    fn membership(&self, value: &Ast, list: &[Ast], scope: Scope) -> Result<BoolExpr, ExprError> {
        match self.compile(value, scope)? {
            Typed::Cat(src, k) => {
                let mut mask = 0;
                for item in list {
                    match &item.kind {
                        AstKind::Str(s) => mask |= self.category_bit(k, s, item.span.clone())?,
                        _ => {
                            return Err(ExprError::new(
                                item.span.clone(),
                                format!(
                                    "list items for column `{}` must be quoted values",
                                    self.sym.categories[k].0
                                ),
                            ))
                        }
                    }
                }
                Ok(BoolExpr::OneOf(src, mask))
            }
            Typed::Num(e, ty) if ty != Type::Date => {
                let mut values = Vec::with_capacity(list.len());
                for item in list {
                    match self.compile(item, scope)? {
                        Typed::Num(NumExpr::Const(v), t) if t != Type::Date => values.push(v),
                        _ => {
                            return Err(ExprError::new(
                                item.span.clone(),
                                "list items must be numbers written out",
                            ))
                        }
                    }
                }
                Ok(BoolExpr::NumIn(e, values))
            }
            other => Err(ExprError::new(
                value.span.clone(),
                format!("`in [..]` works on categories and numbers, not on {}", self.describe(&other)),
            )),
        }
    }
}

/// The built-in functions, for messages.
pub const FUNCTIONS: &[&str] =
    &["count", "any", "all", "sum", "mean", "min", "max", "per_capita", "abs", "if", "days_between", "date"];

/// The readable name of a type, for messages.
pub fn type_name(ty: Type, sym: &Symbols) -> String {
    match ty {
        Type::Bool => "yes/no".into(),
        Type::Int => "a whole number".into(),
        Type::Dec => "a number".into(),
        Type::Date => "a date".into(),
        Type::Cat(k) => format!("a value of category column `{}`", sym.categories[k].0),
    }
}

/// The candidate nearest to `name` by edit distance, if it is near enough to
/// be a likely typo.
pub fn closest<'s>(name: &str, candidates: impl Iterator<Item = &'s str>) -> Option<&'s str> {
    candidates
        .map(|c| (edit_distance(name, c), c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 4) && *d < name.len().max(1))
        .min()
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}
