//! The filter text syntax of CLI.md:
//! `field op value` joined with `and`, `or`, `not` and parentheses;
//! ops `= != < <= > >= ~ in [..]`; values numbers, `"text"`, `true`, `false`, `null`.
//! `and` binds tighter than `or`. Errors name the (1-based) column.

use super::filter::{CmpOp, Filter};
use crate::error::{Error, Result};
use crate::limits;
use crate::model::Value;

impl Filter {
    /// Parses the filter text of CLI.md.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming the column where the text went wrong.
    pub fn parse(text: &str) -> Result<Filter> {
        parse(text)
    }
}

/// Deeper nesting than this is refused rather than risking the stack.
const MAX_DEPTH: usize = limits::MAX_DEPTH as usize;

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Num(Value),
    Op(CmpOp),
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
}

fn err(col: usize, what: impl std::fmt::Display) -> Error {
    Error::Invalid(format!("filter: {what} at column {col}"))
}

fn lex(text: &str) -> Result<Vec<(Tok, usize)>> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        let col = i + 1;
        let two = chars.get(i + 1).copied();
        let (tok, len) = match c {
            c if c.is_whitespace() => {
                i += 1;
                continue;
            }
            '(' => (Tok::LParen, 1),
            ')' => (Tok::RParen, 1),
            '[' => (Tok::LBracket, 1),
            ']' => (Tok::RBracket, 1),
            ',' => (Tok::Comma, 1),
            '~' => (Tok::Op(CmpOp::Contains), 1),
            '=' => (Tok::Op(CmpOp::Eq), 1),
            '!' if two == Some('=') => (Tok::Op(CmpOp::Ne), 2),
            '<' if two == Some('=') => (Tok::Op(CmpOp::Le), 2),
            '>' if two == Some('=') => (Tok::Op(CmpOp::Ge), 2),
            '<' => (Tok::Op(CmpOp::Lt), 1),
            '>' => (Tok::Op(CmpOp::Gt), 1),
            '"' => {
                let mut s = String::new();
                let mut j = i + 1;
                loop {
                    match chars.get(j) {
                        None => return Err(err(col, "unterminated text")),
                        Some('"') => break,
                        Some('\\') => {
                            let esc = match chars.get(j + 1) {
                                Some('"') => '"',
                                Some('\\') => '\\',
                                Some('n') => '\n',
                                Some('t') => '\t',
                                _ => return Err(err(j + 1, "unknown escape in text")),
                            };
                            s.push(esc);
                            j += 2;
                        }
                        Some(&ch) => {
                            s.push(ch);
                            j += 1;
                        }
                    }
                }
                (Tok::Str(s), j + 1 - i)
            }
            c if c.is_ascii_digit() || c == '-' || c == '+' => {
                let mut j = i + 1;
                while chars
                    .get(j)
                    .is_some_and(|d| d.is_ascii_alphanumeric() || matches!(d, '.' | '-' | '+'))
                {
                    j += 1;
                }
                let word: String = chars.get(i..j).unwrap_or_default().iter().collect();
                let num = if let Ok(n) = word.parse::<i64>() {
                    Value::Int(n)
                } else {
                    match word.parse::<f64>() {
                        Ok(f) if f.is_finite() && word.contains(['.', 'e', 'E']) => Value::Float(f),
                        _ => return Err(err(col, format_args!("`{word}` is not a number"))),
                    }
                };
                (Tok::Num(num), j - i)
            }
            c if c.is_alphabetic() || c == '_' => {
                let mut j = i + 1;
                while chars
                    .get(j)
                    .is_some_and(|d| d.is_alphanumeric() || matches!(d, '_' | '.'))
                {
                    j += 1;
                }
                (
                    Tok::Ident(chars.get(i..j).unwrap_or_default().iter().collect()),
                    j - i,
                )
            }
            other => return Err(err(col, format_args!("unexpected `{other}`"))),
        };
        out.push((tok, col));
        i += len;
    }
    Ok(out)
}

struct Parser {
    toks: Vec<(Tok, usize)>,
    pos: usize,
    end_col: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|(t, _)| t)
    }

    fn col(&self) -> usize {
        self.toks.get(self.pos).map_or(self.end_col, |(_, c)| *c)
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).map(|(t, _)| t.clone());
        self.pos += 1;
        t
    }

    fn keyword(&mut self, word: &str) -> bool {
        if matches!(self.peek(), Some(Tok::Ident(w)) if w == word) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn or(&mut self, depth: usize) -> Result<Filter> {
        let mut left = self.and(depth)?;
        while self.keyword("or") {
            left = left.or(self.and(depth)?);
        }
        Ok(left)
    }

    fn and(&mut self, depth: usize) -> Result<Filter> {
        let mut left = self.unary(depth)?;
        while self.keyword("and") {
            left = left.and(self.unary(depth)?);
        }
        Ok(left)
    }

    fn unary(&mut self, depth: usize) -> Result<Filter> {
        if depth >= MAX_DEPTH {
            return Err(err(self.col(), "nesting is too deep"));
        }
        if self.keyword("not") {
            return Ok(self.unary(depth + 1)?.not());
        }
        if self.peek() == Some(&Tok::LParen) {
            self.pos += 1;
            let inner = self.or(depth + 1)?;
            return match self.next() {
                Some(Tok::RParen) => Ok(inner),
                _ => Err(err(self.col_before(), "expected `)`")),
            };
        }
        self.comparison()
    }

    fn col_before(&self) -> usize {
        self.toks
            .get(self.pos.saturating_sub(1))
            .map_or(self.end_col, |(_, c)| *c)
    }

    fn comparison(&mut self) -> Result<Filter> {
        let col = self.col();
        let field = match self.next() {
            Some(Tok::Ident(w)) if !is_keyword(&w) => w,
            _ => return Err(err(col, "expected a field name")),
        };
        let col = self.col();
        if self.keyword("in") {
            return Ok(Filter::In {
                field,
                values: self.list()?,
            });
        }
        let op = match self.next() {
            Some(Tok::Op(op)) => op,
            _ => return Err(err(col, "expected an operator (= != < <= > >= ~ in)")),
        };
        let value = self.value()?;
        Ok(Filter::Cmp { field, op, value })
    }

    fn list(&mut self) -> Result<Vec<Value>> {
        if self.next() != Some(Tok::LBracket) {
            return Err(err(self.col_before(), "expected `[` after `in`"));
        }
        let mut values = Vec::new();
        if self.peek() == Some(&Tok::RBracket) {
            self.pos += 1;
            return Ok(values);
        }
        loop {
            values.push(self.value()?);
            match self.next() {
                Some(Tok::Comma) => continue,
                Some(Tok::RBracket) => return Ok(values),
                _ => return Err(err(self.col_before(), "expected `,` or `]`")),
            }
        }
    }

    fn value(&mut self) -> Result<Value> {
        let col = self.col();
        Ok(match self.next() {
            Some(Tok::Num(v)) => v,
            Some(Tok::Str(s)) => Value::Text(s),
            Some(Tok::Ident(w)) if w == "true" => Value::Bool(true),
            Some(Tok::Ident(w)) if w == "false" => Value::Bool(false),
            Some(Tok::Ident(w)) if w == "null" => Value::Null,
            _ => {
                return Err(err(
                    col,
                    "expected a value (number, \"text\", true, false or null)",
                ))
            }
        })
    }
}

fn is_keyword(w: &str) -> bool {
    matches!(w, "and" | "or" | "not" | "in" | "true" | "false" | "null")
}

/// Parses filter text.
pub(crate) fn parse(text: &str) -> Result<Filter> {
    if text.len() > limits::MAX_FILTER_BYTES {
        return Err(Error::Invalid(format!(
            "filter: the text is {} bytes, more than {}",
            text.len(),
            limits::MAX_FILTER_BYTES
        )));
    }
    let toks = lex(text)?;
    let end_col = text.chars().count() + 1;
    if toks.is_empty() {
        return Err(err(end_col, "empty filter"));
    }
    let mut p = Parser {
        toks,
        pos: 0,
        end_col,
    };
    let f = p.or(0)?;
    if p.pos < p.toks.len() {
        return Err(err(p.col(), "expected `and`, `or` or the end"));
    }
    f.check_limits()?;
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_cli_example() {
        let f = parse(r#"stage = "won" and (amount >= 1000 or owner in [3, 4])"#).unwrap();
        let want = Filter::field("stage").eq("won").and(
            Filter::field("amount")
                .ge(1000)
                .or(Filter::field("owner").is_in([3, 4])),
        );
        assert_eq!(f, want);
    }

    #[test]
    fn precedence_and_not() {
        let f = parse("not a = 1 or b != -2.5 and c ~ \"x\\\"y\"").unwrap();
        let want = Filter::field("a").eq(1).not().or(Filter::field("b")
            .ne(-2.5)
            .and(Filter::field("c").contains("x\"y")));
        assert_eq!(f, want);
        assert_eq!(
            parse("x in []").unwrap(),
            Filter::In {
                field: "x".into(),
                values: vec![]
            }
        );
    }

    #[test]
    fn errors_point_at_the_column() {
        let e = |t: &str| parse(t).unwrap_err().to_string();
        assert_eq!(
            e("amount >"),
            "filter: expected a value (number, \"text\", true, false or null) at column 9"
        );
        assert!(e("a = 1 b").contains("column 7"), "{}", e("a = 1 b"));
        assert!(e("(a = 1").contains("expected `)`"));
        assert!(e("a = \"x").contains("unterminated"));
        assert!(e("a = 1x").contains("not a number"));
        assert!(e("").contains("empty"));
        assert!(e("a $ 1").contains("unexpected `$`"));
        assert!(e(&"(".repeat(500)).contains("too deep"));
        assert!(e(&"not ".repeat(500)).contains("too deep"));
    }

    #[test]
    fn a_flat_chain_is_one_level_and_the_limits_hold_far_past_them() {
        let chain = |n: usize, op: &str| vec!["a = 1"; n].join(op);
        let f = parse(&chain(limits::MAX_FILTER_TERMS, " or ")).unwrap();
        assert!(matches!(&f, Filter::Or(any) if any.len() == limits::MAX_FILTER_TERMS));
        let e = |t: &str| parse(t).unwrap_err().to_string();
        let terms = chain(limits::MAX_FILTER_TERMS + 1, " and ");
        assert!(terms.len() < limits::MAX_FILTER_BYTES);
        assert!(
            e(&terms).contains("more than 1000 comparisons"),
            "{}",
            e(&terms)
        );
        let list = format!(
            "a in [{}]",
            vec!["1"; limits::MAX_FILTER_TERMS + 1].join(",")
        );
        assert!(e(&list).contains("comparisons"));
        // Ten times the text limit: refused by size, before it is read.
        let huge = chain(16_000, " or ");
        assert!(huge.len() > 10 * limits::MAX_FILTER_BYTES / 8);
        assert!(e(&huge).contains("more than 65536"));
        let huge = "a".repeat(10 * limits::MAX_FILTER_BYTES);
        assert!(e(&huge).contains("more than 65536"));
        // Alternating `and`/`or` by parentheses is nesting: held at 64 levels.
        let mut nested = "a = 1".to_string();
        for i in 0..70 {
            let op = if i % 2 == 0 { "and" } else { "or" };
            nested = format!("({nested}) {op} b = 1");
        }
        assert!(e(&nested).contains("too deep"), "{}", e(&nested));
    }
}
