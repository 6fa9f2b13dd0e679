//! Access control: who may read and write which part of the document.

pub mod rules;
