//! Access control: who may read and write what.

pub mod jwt;
