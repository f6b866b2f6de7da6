//! The condition language: text → syntax tree → checked, compiled tree.
//!
//! Conditions are parsed and checked once, when the model loads; scoring
//! walks the compiled trees ([`BoolExpr`], [`NumExpr`]) over each household.

mod batch;
mod check;
mod closure;
mod compiled;
mod parse;

pub use batch::{BatchEval, Columns, Level, OwnedColumns};
pub use check::{
    closest, type_name, Checker, Scope, Symbol, Symbols, Type, Typed, FUNCTIONS, MAX_NODES, RESERVED,
};
pub use closure::{BoolFn, CountFn, NumFn};
pub use compiled::{ArithOp, BoolExpr, CmpOp, Inputs, NumExpr, Src};
pub use parse::{parse, Ast, AstKind, BinOp, ExprError, MAX_DEPTH};

#[cfg(test)]
mod tests;
