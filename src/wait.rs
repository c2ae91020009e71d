//! The network-online wait of `rootlet-wait-online`.
