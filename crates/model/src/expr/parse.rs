//! Lexer and parser of the condition language: text to an untyped syntax tree
//! whose nodes remember where they came from, so that the checker can point
//! at the exact place of a mistake.

use std::ops::Range;

/// A mistake in a condition: where it is (byte offsets in the condition's
/// text) and what to do about it.
#[derive(Debug, Clone, PartialEq)]
pub struct ExprError {
    /// Byte range of the offending text within the condition.
    pub span: Range<usize>,
    /// What is wrong and how to fix it.
    pub message: String,
    /// The derived value whose text `span` points into, when the mistake is
    /// in a derived value that the condition uses rather than in the
    /// condition itself.
    pub within: Option<String>,
}

impl ExprError {
    pub(crate) fn new(span: Range<usize>, message: impl Into<String>) -> Self {
        ExprError { span, message: message.into(), within: None }
    }
}

/// Binary operators, by the text that spells them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    /// `or`
    Or,
    /// `and`
    And,
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
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
}

impl BinOp {
    pub(crate) fn symbol(self) -> &'static str {
        match self {
            BinOp::Or => "or",
            BinOp::And => "and",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
        }
    }
}

/// A node of the untyped syntax tree.
#[derive(Debug, Clone, PartialEq)]
pub struct Ast {
    /// What the node is.
    pub kind: AstKind,
    /// Byte range of the node within the condition.
    pub span: Range<usize>,
    /// Nodes on the longest path from this one down, this one included
    /// (at most [`MAX_DEPTH`]).
    pub depth: u32,
}

/// The deepest a condition may nest: parentheses, `not`, `-`, function
/// calls and chained operators (`a or b or c` is three deep) all count.
/// Every later step walks the tree by recursion, so a deeper tree is
/// refused where it is written rather than overflowing the stack; real
/// conditions nest a few levels, and a long chain is better split into
/// derived values.
pub const MAX_DEPTH: u32 = 100;

impl Ast {
    /// A node over its children, or an error when it would nest too deep.
    fn new(kind: AstKind, span: Range<usize>) -> Result<Ast, ExprError> {
        let below = match &kind {
            AstKind::Num(_) | AstKind::Str(_) | AstKind::Bool(_) | AstKind::Name(_) => 0,
            AstKind::Neg(x) | AstKind::Not(x) => x.depth,
            AstKind::Binary(_, l, r) => l.depth.max(r.depth),
            AstKind::Call(_, args) => args.iter().map(|a| a.depth).max().unwrap_or(0),
            AstKind::In { value, list, .. } => {
                list.iter().map(|a| a.depth).max().unwrap_or(0).max(value.depth)
            }
        };
        if below >= MAX_DEPTH {
            return Err(too_deep(span));
        }
        Ok(Ast { kind, span, depth: below + 1 })
    }
}

/// The message for a condition nested too deep.
fn too_deep(span: Range<usize>) -> ExprError {
    ExprError::new(
        span,
        format!(
            "the condition nests more than {MAX_DEPTH} levels deep (parentheses, `not`, `-`, calls and chained \
             `and`/`or`/arithmetic all count); split it into derived values"
        ),
    )
}

/// The kinds of syntax node.
#[derive(Debug, Clone, PartialEq)]
pub enum AstKind {
    /// A number literal.
    Num(f64),
    /// A string literal (category values, dates).
    Str(String),
    /// `true` or `false`.
    Bool(bool),
    /// A column, parameter, derived value or `members`.
    Name(String),
    /// `f(a, b, …)`.
    Call(String, Vec<Ast>),
    /// `-x`.
    Neg(Box<Ast>),
    /// `not x`.
    Not(Box<Ast>),
    /// `a op b`.
    Binary(BinOp, Box<Ast>, Box<Ast>),
    /// `x in [..]` or, negated, `x not in [..]`.
    In {
        /// The value tested.
        value: Box<Ast>,
        /// The listed values.
        list: Vec<Ast>,
        /// `not in` rather than `in`.
        negated: bool,
    },
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Num(f64),
    Str(String),
    Ident(String),
    Op(&'static str),
    End,
}

fn lex(src: &str) -> Result<Vec<(Tok, Range<usize>)>, ExprError> {
    let bytes = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let start = i;
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if c.is_ascii_digit() || (c == b'.' && bytes.get(i + 1).is_some_and(u8::is_ascii_digit)) {
            while i < bytes.len() && (bytes[i].is_ascii_digit() || bytes[i] == b'.' || bytes[i] == b'_') {
                i += 1;
            }
            let text: String = src[start..i].chars().filter(|&c| c != '_').collect();
            let value = text
                .parse::<f64>()
                .map_err(|_| ExprError::new(start..i, format!("`{}` is not a number", &src[start..i])))?;
            out.push((Tok::Num(value), start..i));
        } else if c.is_ascii_alphabetic() || c == b'_' {
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                i += 1;
            }
            out.push((Tok::Ident(src[start..i].to_string()), start..i));
        } else if c == b'"' || c == b'\'' {
            let end = src[i + 1..].find(c as char).ok_or_else(|| {
                ExprError::new(start..src.len(), "this string is not closed: add the closing quote")
            })?;
            let text = &src[i + 1..i + 1 + end];
            i += end + 2;
            out.push((Tok::Str(text.to_string()), start..i));
        } else {
            let two = src.get(i..i + 2).unwrap_or("");
            let op = match two {
                "==" | "!=" | "<=" | ">=" => Some(two),
                _ => None,
            };
            let op = match op {
                Some("==") => "==",
                Some("!=") => "!=",
                Some("<=") => "<=",
                Some(">=") => ">=",
                _ => match c {
                    b'<' => "<",
                    b'>' => ">",
                    b'+' => "+",
                    b'-' => "-",
                    b'*' => "*",
                    b'/' => "/",
                    b'(' => "(",
                    b')' => ")",
                    b'[' => "[",
                    b']' => "]",
                    b',' => ",",
                    b'=' => {
                        return Err(ExprError::new(start..start + 1, "use `==` to compare, not `=`"));
                    }
                    _ => {
                        let ch = src[i..].chars().next().unwrap_or('?');
                        return Err(ExprError::new(
                            start..start + ch.len_utf8(),
                            format!("unexpected character `{ch}`: names are ASCII letters, digits and `_`; put text in quotes"),
                        ));
                    }
                },
            };
            i += op.len();
            out.push((Tok::Op(op), start..i));
        }
    }
    out.push((Tok::End, src.len()..src.len()));
    Ok(out)
}

/// Parses a condition into its syntax tree.
pub fn parse(src: &str) -> Result<Ast, ExprError> {
    let mut p = Parser { toks: lex(src)?, pos: 0, nesting: 0 };
    let ast = p.or()?;
    match p.peek() {
        Tok::End => Ok(ast),
        _ => Err(p.unexpected("an operator such as `and`, `or`, `==` or the end of the condition")),
    }
}

struct Parser {
    toks: Vec<(Tok, Range<usize>)>,
    pos: usize,
    /// Levels of nesting entered and not yet left.
    nesting: u32,
}

impl Parser {
    fn peek(&self) -> &Tok {
        &self.toks[self.pos].0
    }

    fn span(&self) -> Range<usize> {
        self.toks[self.pos].1.clone()
    }

    fn bump(&mut self) -> (Tok, Range<usize>) {
        let t = self.toks[self.pos].clone();
        if self.pos + 1 < self.toks.len() {
            self.pos += 1;
        }
        t
    }

    fn is_word(&self, word: &str) -> bool {
        matches!(self.peek(), Tok::Ident(w) if w == word)
    }

    fn is_op(&self, op: &str) -> bool {
        matches!(self.peek(), Tok::Op(o) if *o == op)
    }

    fn unexpected(&self, wanted: &str) -> ExprError {
        let found = match self.peek() {
            Tok::End => "the end of the condition".to_string(),
            Tok::Num(_) | Tok::Str(_) | Tok::Ident(_) | Tok::Op(_) => {
                format!("`{}`", self.describe())
            }
        };
        ExprError::new(self.span(), format!("expected {wanted}, found {found}"))
    }

    fn describe(&self) -> String {
        match self.peek() {
            Tok::Num(n) => n.to_string(),
            Tok::Str(s) => format!("\"{s}\""),
            Tok::Ident(s) => s.clone(),
            Tok::Op(o) => o.to_string(),
            Tok::End => String::new(),
        }
    }

    fn expect_op(&mut self, op: &str) -> Result<Range<usize>, ExprError> {
        if self.is_op(op) {
            Ok(self.bump().1)
        } else {
            Err(self.unexpected(&format!("`{op}`")))
        }
    }

    fn binary(op: BinOp, l: Ast, r: Ast) -> Result<Ast, ExprError> {
        let span = l.span.start..r.span.end;
        Ast::new(AstKind::Binary(op, Box::new(l), Box::new(r)), span)
    }

    /// Enters one more level of nesting (a parenthesis, `not`, `-`, a
    /// call): the parser recurses, so the depth is refused before the
    /// stack runs out.
    fn enter(&mut self) -> Result<(), ExprError> {
        self.nesting += 1;
        if self.nesting > MAX_DEPTH {
            return Err(too_deep(self.span()));
        }
        Ok(())
    }

    fn or(&mut self) -> Result<Ast, ExprError> {
        let mut left = self.and()?;
        while self.is_word("or") {
            self.bump();
            let right = self.and()?;
            left = Self::binary(BinOp::Or, left, right)?;
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Ast, ExprError> {
        let mut left = self.not()?;
        while self.is_word("and") {
            self.bump();
            let right = self.not()?;
            left = Self::binary(BinOp::And, left, right)?;
        }
        Ok(left)
    }

    fn not(&mut self) -> Result<Ast, ExprError> {
        if self.is_word("not") {
            let start = self.bump().1.start;
            self.enter()?;
            let inner = self.not()?;
            self.nesting -= 1;
            let span = start..inner.span.end;
            return Ast::new(AstKind::Not(Box::new(inner)), span);
        }
        self.comparison()
    }

    fn comparison(&mut self) -> Result<Ast, ExprError> {
        let left = self.sum()?;
        let op = match self.peek() {
            Tok::Op("==") => BinOp::Eq,
            Tok::Op("!=") => BinOp::Ne,
            Tok::Op("<") => BinOp::Lt,
            Tok::Op("<=") => BinOp::Le,
            Tok::Op(">") => BinOp::Gt,
            Tok::Op(">=") => BinOp::Ge,
            Tok::Ident(w) if w == "in" || w == "not" => {
                let negated = w == "not";
                self.bump();
                if negated && !self.is_word("in") {
                    return Err(self.unexpected("`in` after `not` (as in `x not in [..]`)"));
                }
                if negated {
                    self.bump();
                }
                let (list, end) = self.list()?;
                let span = left.span.start..end;
                return Ast::new(AstKind::In { value: Box::new(left), list, negated }, span);
            }
            _ => return Ok(left),
        };
        self.bump();
        let right = self.sum()?;
        if matches!(self.peek(), Tok::Op("==" | "!=" | "<" | "<=" | ">" | ">=")) {
            return Err(ExprError::new(self.span(), "comparisons do not chain: write `a < b and b < c`"));
        }
        Self::binary(op, left, right)
    }

    fn list(&mut self) -> Result<(Vec<Ast>, usize), ExprError> {
        self.expect_op("[")?;
        let mut items = Vec::new();
        if !self.is_op("]") {
            loop {
                items.push(self.unary()?);
                if self.is_op(",") {
                    self.bump();
                    if self.is_op("]") {
                        break;
                    }
                } else {
                    break;
                }
            }
        }
        let end = self.expect_op("]")?.end;
        Ok((items, end))
    }

    fn sum(&mut self) -> Result<Ast, ExprError> {
        let mut left = self.product()?;
        loop {
            let op = match self.peek() {
                Tok::Op("+") => BinOp::Add,
                Tok::Op("-") => BinOp::Sub,
                _ => return Ok(left),
            };
            self.bump();
            let right = self.product()?;
            left = Self::binary(op, left, right)?;
        }
    }

    fn product(&mut self) -> Result<Ast, ExprError> {
        let mut left = self.unary()?;
        loop {
            let op = match self.peek() {
                Tok::Op("*") => BinOp::Mul,
                Tok::Op("/") => BinOp::Div,
                _ => return Ok(left),
            };
            self.bump();
            let right = self.unary()?;
            left = Self::binary(op, left, right)?;
        }
    }

    fn unary(&mut self) -> Result<Ast, ExprError> {
        if self.is_op("-") {
            let start = self.bump().1.start;
            self.enter()?;
            let inner = self.unary()?;
            self.nesting -= 1;
            let span = start..inner.span.end;
            return Ast::new(AstKind::Neg(Box::new(inner)), span);
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Ast, ExprError> {
        let span = self.span();
        match self.peek().clone() {
            Tok::Num(n) => {
                self.bump();
                Ast::new(AstKind::Num(n), span)
            }
            Tok::Str(s) => {
                self.bump();
                Ast::new(AstKind::Str(s), span)
            }
            Tok::Op("(") => {
                self.bump();
                self.enter()?;
                let inner = self.or()?;
                self.nesting -= 1;
                self.expect_op(")")?;
                Ok(inner)
            }
            Tok::Ident(name) => {
                if matches!(name.as_str(), "and" | "or" | "not" | "in") {
                    return Err(self.unexpected("a value"));
                }
                self.bump();
                if name == "true" || name == "false" {
                    return Ast::new(AstKind::Bool(name == "true"), span);
                }
                if !self.is_op("(") {
                    return Ast::new(AstKind::Name(name), span);
                }
                self.bump();
                self.enter()?;
                let mut args = Vec::new();
                if !self.is_op(")") {
                    loop {
                        args.push(self.or()?);
                        if self.is_op(",") {
                            self.bump();
                        } else {
                            break;
                        }
                    }
                }
                self.nesting -= 1;
                let end = self.expect_op(")")?.end;
                Ast::new(AstKind::Call(name, args), span.start..end)
            }
            _ => Err(self.unexpected("a value (a number, a quoted text, a name or `(`)")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn show(a: &Ast) -> String {
        match &a.kind {
            AstKind::Num(n) => n.to_string(),
            AstKind::Str(s) => format!("{s:?}"),
            AstKind::Bool(b) => b.to_string(),
            AstKind::Name(n) => n.clone(),
            AstKind::Call(f, args) => {
                format!("{f}({})", args.iter().map(show).collect::<Vec<_>>().join(", "))
            }
            AstKind::Neg(x) => format!("(-{})", show(x)),
            AstKind::Not(x) => format!("(not {})", show(x)),
            AstKind::Binary(op, l, r) => format!("({} {} {})", show(l), op.symbol(), show(r)),
            AstKind::In { value, list, negated } => format!(
                "({} {}in [{}])",
                show(value),
                if *negated { "not " } else { "" },
                list.iter().map(show).collect::<Vec<_>>().join(", ")
            ),
        }
    }

    #[test]
    fn precedence_follows_arithmetic_then_comparison_then_logic() {
        let cases = [
            ("a + b * c > 2 and not d or e", "((((a + (b * c)) > 2) and (not d)) or e)"),
            ("-x - -1", "((-x) - (-1))"),
            ("a / b / c", "((a / b) / c)"),
            ("count(age >= 60) >= 2", "(count((age >= 60)) >= 2)"),
            ("s not in ['a', \"b\",]", "(s not in [\"a\", \"b\"])"),
            ("max(a, 1_000.5)", "max(a, 1000.5)"),
            ("(a or b) and c", "((a or b) and c)"),
        ];
        for (src, want) in cases {
            assert_eq!(show(&parse(src).unwrap()), want, "{src}");
        }
    }

    #[test]
    fn spans_point_at_the_node() {
        let ast = parse("age >= 60").unwrap();
        assert_eq!(ast.span, 0..9);
        let AstKind::Binary(_, l, r) = ast.kind else { panic!() };
        assert_eq!((l.span, r.span), (0..3, 7..9));
    }

    #[test]
    fn syntax_errors_say_where_and_what() {
        let cases = [
            ("age = 60", 4..5, "use `==`"),
            ("age >= ", 7..7, "expected a value"),
            ("a < b < c", 6..7, "do not chain"),
            ("a and", 5..5, "expected a value"),
            ("f(a", 3..3, "expected `)`"),
            ("s == 'x", 5..7, "not closed"),
            ("a # b", 2..3, "unexpected character `#`"),
            ("a b", 2..3, "expected an operator"),
            ("x not [1]", 6..7, "`in` after `not`"),
            ("年龄 > 1", 0..3, "unexpected character"),
        ];
        for (src, span, msg) in cases {
            let err = parse(src).unwrap_err();
            assert_eq!(err.span, span, "{src}: {}", err.message);
            assert!(err.message.contains(msg), "{src}: {}", err.message);
        }
    }
}
