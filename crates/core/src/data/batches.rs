//! (to be written)
pub struct BatchIter;
