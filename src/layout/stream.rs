//! Storing a JSON text as it is parsed, without building a `Value` of it first.
//!
//! A `serde` seed parses the text and stores each value bottom-up as soon as it is complete:
//! small values stay inline, array pages are written as they fill, so memory holds the text,
//! the current path and one page per open array. Object members must be sorted, so an object's
//! own members are held until it closes (its large children are already stored). Pages are cut
//! by the same rule as [`Txn::pack`], so the stored tree, and every hash, is the
//! same as when the value is stored from a `Value`.

use super::Error;
use super::build::cut_after;
use super::txn::Txn;
use crate::core::json::NUMBER_TOKEN;
use crate::core::record::{self as node, Child, Kind, NodeRef, Page, PageRef, TAG_SCALAR};
use crate::store::Store;
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};
use std::fmt;

impl<S: Store> Txn<'_, S> {
    /// Stores the JSON text `json`, returning how its parent refers to it.
    ///
    /// `json` must already have passed [`crate::core::json::validate`], nested no deeper than
    /// a document may be: what it refuses is refused before anything is written, so a parse
    /// error here is a broken invariant. A layout failure comes back as itself.
    pub(super) fn store_json(&mut self, json: &[u8]) -> Result<Child, Error> {
        let mut failure = None;
        let mut deserializer = crate::core::json::unbounded(json);
        let outcome = Seed { txn: self, failure: &mut failure }.deserialize(&mut deserializer);
        if let Some(error) = failure {
            return Err(error);
        }
        let (child, _) = outcome.map_err(|error| Error::Corrupt(format!("the body is not valid JSON: {error}")))?;
        Ok(child)
    }
}

/// Parses one value and stores it; returns the child and, when inline, its JSON length.
struct Seed<'a, 's, S: Store> {
    txn: &'a mut Txn<'s, S>,
    /// The layout failure that stopped the parse, if one did.
    failure: &'a mut Option<Error>,
}

impl<'s, S: Store> Seed<'_, 's, S> {
    /// The seed for a value inside this one.
    fn nested(&mut self) -> Seed<'_, 's, S> {
        Seed { txn: &mut *self.txn, failure: &mut *self.failure }
    }

    /// Turns a layout failure into a parse error, remembering the failure.
    fn fail<E: de::Error>(&mut self, error: Error) -> E {
        let message = error.to_string();
        *self.failure = Some(error);
        E::custom(message)
    }

    fn scalar<E: de::Error>(mut self, value: Value) -> Result<(Child, Option<usize>), E> {
        let len = node::json_len(&value);
        if len <= self.txn.config.inline_bytes_max {
            return Ok((Child::Inline(value), Some(len)));
        }
        let mut bytes = vec![TAG_SCALAR];
        serde_json::to_writer(&mut bytes, &value).expect("a Value always serializes");
        let hash = node::hash(&bytes[1..]);
        let key = self.txn.write(&bytes).map_err(|error| self.fail(error))?;
        Ok((Child::Node(NodeRef { key, page: None, hash, kind: Kind::Scalar, len: 0 }), None))
    }
}

impl<'de, S: Store> DeserializeSeed<'de> for Seed<'_, '_, S> {
    type Value = (Child, Option<usize>);

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de, S: Store> Visitor<'de> for Seed<'_, '_, S> {
    type Value = (Child, Option<usize>);

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> Result<Self::Value, E> {
        self.scalar(Value::Bool(value))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Self::Value, E> {
        self.scalar(Value::from(value))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Self::Value, E> {
        self.scalar(Value::from(value))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<Self::Value, E> {
        self.scalar(Value::from(value))
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Self::Value, E> {
        self.scalar(Value::String(value.to_owned()))
    }

    fn visit_string<E: de::Error>(self, value: String) -> Result<Self::Value, E> {
        self.scalar(Value::String(value))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        self.scalar(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut builder = Elements::new(self.txn.config.inline_bytes_max, self.txn.config.page_bytes_target);
        while let Some((child, len)) = seq.next_element_seed(self.nested())? {
            if let Err(error) = builder.push(self.txn, child, len) {
                return Err(self.fail(error));
            }
        }
        match builder.finish(self.txn) {
            Ok(finished) => Ok(finished),
            Err(error) => Err(self.fail(error)),
        }
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut members: Vec<(String, Child, Option<usize>)> = Vec::new();
        while let Some(name) = map.next_key::<String>()? {
            if members.is_empty() && name == NUMBER_TOKEN {
                // A number, kept exactly as written, as `Value` itself reads it.
                let text: String = map.next_value()?;
                let number: Number = text.parse().map_err(de::Error::custom)?;
                return self.scalar(Value::Number(number));
            }
            let (child, len) = map.next_value_seed(self.nested())?;
            members.push((name, child, len));
        }
        // Sorted by name. The body was checked to name each member once; were a name there
        // twice, the last would count, as in `serde_json::Value`.
        members.reverse();
        members.sort_by(|a, b| a.0.cmp(&b.0));
        members.dedup_by(|later, earlier| later.0 == earlier.0);
        let inline_len = members.iter().try_fold(2 + members.len().saturating_sub(1), |total, (name, _, len)| {
            len.map(|len| total + len + node::str_json_len(name) + 1)
        });
        if inline_len.is_some_and(|len| len <= self.txn.config.inline_bytes_max) {
            let map: Map<String, Value> =
                members.into_iter().map(|(name, child, _)| (name, into_value(child))).collect();
            return Ok((Child::Inline(Value::Object(map)), inline_len));
        }
        let page = Page::Members(members.into_iter().map(|(name, child, _)| (name, child)).collect());
        let stored = self.txn.pack(page).and_then(|pages| self.txn.top(Kind::Object, pages));
        match stored {
            Ok(child) => Ok((child, None)),
            Err(error) => Err(self.fail(error)),
        }
    }
}

/// An array's elements as they arrive: held while the array may still be small enough to
/// inline or to fit one page, then written a page at a time.
struct Elements {
    inline_max: usize,
    target: usize,
    held: Vec<(Child, Option<usize>)>,
    held_bytes: usize,
    inline_len: Option<usize>,
    pages: Vec<PageRef>,
    filled: usize,
    on_page: usize,
    paging: bool,
}

impl Elements {
    fn new(inline_max: usize, target: usize) -> Self {
        Elements {
            inline_max,
            target: target.max(1),
            held: Vec::new(),
            held_bytes: 0,
            inline_len: Some(2),
            pages: Vec::new(),
            filled: 0,
            on_page: 0,
            paging: false,
        }
    }

    fn push<S: Store>(&mut self, txn: &mut Txn<'_, S>, child: Child, len: Option<usize>) -> Result<(), Error> {
        let first = self.held.is_empty() && self.pages.is_empty() && !self.paging;
        self.inline_len = self.inline_len.zip(len).map(|(total, len)| total + len + usize::from(!first));
        let size = child_size(&child, len);
        self.held.push((child, len));
        self.held_bytes += size;
        if !self.paging && self.held_bytes > 2 * self.target {
            // Too big for one page: from here on, cut pages the way `pack` does.
            self.paging = true;
            let held = std::mem::take(&mut self.held);
            self.held_bytes = 0;
            for (child, len) in held {
                self.place(txn, child, len)?;
            }
        } else if self.paging {
            let (child, len) = self.held.pop().expect("just pushed");
            self.held_bytes -= size;
            self.place(txn, child, len)?;
        }
        Ok(())
    }

    /// Adds an element to the page being filled, writing the page when it is full.
    fn place<S: Store>(&mut self, txn: &mut Txn<'_, S>, child: Child, len: Option<usize>) -> Result<(), Error> {
        self.filled += child_size(&child, len);
        self.on_page += 1;
        self.held.push((child, len));
        if cut_after(self.filled, self.on_page, self.target) {
            let page = Page::Elements(self.held.drain(..).map(|(child, _)| child).collect());
            self.pages.push(txn.store_page(page)?);
            (self.filled, self.on_page) = (0, 0);
        }
        Ok(())
    }

    fn finish<S: Store>(self, txn: &mut Txn<'_, S>) -> Result<(Child, Option<usize>), Error> {
        if !self.paging && self.inline_len.is_some_and(|len| len <= self.inline_max) {
            let items = self.held.into_iter().map(|(child, _)| into_value(child)).collect();
            return Ok((Child::Inline(Value::Array(items)), self.inline_len));
        }
        let mut pages = self.pages;
        if !self.held.is_empty() {
            let page = Page::Elements(self.held.into_iter().map(|(child, _)| child).collect());
            if self.paging {
                pages.push(txn.store_page(page)?);
            } else {
                pages.extend(txn.pack(page)?);
            }
        }
        Ok((txn.top(Kind::Array, pages)?, None))
    }
}

/// [`node::child_bytes`], from the JSON length of an inline child when the parse counted it.
fn child_size(child: &Child, len: Option<usize>) -> usize {
    match (child, len) {
        (Child::Inline(_), Some(len)) => len + node::INLINE_OVERHEAD,
        _ => node::child_bytes(child),
    }
}

fn into_value(child: Child) -> Value {
    match child {
        Child::Inline(value) => value,
        Child::Node(_) => unreachable!("only all-inline collections are inlined"),
    }
}
