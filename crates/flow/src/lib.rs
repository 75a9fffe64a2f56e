//! genzoo-flow
