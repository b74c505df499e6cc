//! RTP/RTCP port pairs from the configured range: RTP on an even port, RTCP on RTP + 1.
//!
//! The allocator only remembers where to try next; a pair is free when both binds succeed,
//! and is given back by closing its sockets (dropping the leg). Sockets are non-blocking:
//! workers poll them once per tick.

use std::net::{IpAddr, SocketAddr, UdpSocket};

use super::MediaError;

#[derive(Debug)]
pub(super) struct PortAllocator {
    min: u16,
    max: u16,
    next: u16,
}

impl PortAllocator {
    pub fn new(min: u16, max: u16) -> PortAllocator {
        let min = min.saturating_add(min % 2);
        PortAllocator {
            min,
            max,
            next: min,
        }
    }

    /// Even RTP ports in the range.
    fn pairs(&self) -> u32 {
        (u32::from(self.max).saturating_sub(u32::from(self.min)) / 2).max(1)
    }

    /// Bind the next free pair on `addr`, walking the range once at most.
    pub fn bind_pair(&mut self, addr: IpAddr) -> Result<(UdpSocket, UdpSocket), MediaError> {
        for _ in 0..self.pairs() {
            let port = self.next;
            self.next = match self.next.checked_add(2) {
                Some(p) if p.saturating_add(1) < self.max => p,
                _ => self.min,
            };
            let Ok(rtp) = UdpSocket::bind(SocketAddr::new(addr, port)) else {
                continue;
            };
            let Ok(rtcp) = UdpSocket::bind(SocketAddr::new(addr, port + 1)) else {
                continue;
            };
            if rtp.set_nonblocking(true).is_ok() && rtcp.set_nonblocking(true).is_ok() {
                return Ok((rtp, rtcp));
            }
        }
        Err(MediaError::NoPorts(self.min, self.max))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    #[test]
    fn pairs_are_even_and_adjacent_and_skip_ports_in_use() {
        let lo = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let mut a = PortAllocator::new(41_001, 41_011);
        let (rtp, rtcp) = a.bind_pair(lo).expect("pair");
        let p = rtp.local_addr().expect("addr").port();
        assert_eq!(p % 2, 0);
        assert_eq!(rtcp.local_addr().expect("addr").port(), p + 1);
        let (rtp2, _rtcp2) = a.bind_pair(lo).expect("second pair");
        assert_ne!(rtp2.local_addr().expect("addr").port(), p);
        let mut tiny = PortAllocator::new(p, p + 2);
        assert!(matches!(tiny.bind_pair(lo), Err(MediaError::NoPorts(..))));
    }
}
