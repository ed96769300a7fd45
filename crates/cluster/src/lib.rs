//! Cluster membership and the token ring for Mica nodes.
//!
//! - [`ring`]: vnode token allocation, ownership and replica placement (pure functions).

pub mod ring;
