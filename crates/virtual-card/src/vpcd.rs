//! Serving the virtual card to pcscd through vsmartcard's vpcd driver.
//!
//! vpcd listens on TCP (35963 for the packaged reader); the card is the client. Connecting inserts the
//! card, closing the socket removes it. Every message either way is a big-endian `u16` length and a payload;
//! a 1-byte payload from vpcd is a control message (`00` power off, `01` power on, `02` reset, `04` get ATR,
//! which alone gets an answer), anything longer is a command APDU answered with a response APDU.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use zeroize::Zeroizing;

use crate::VirtualCardError;
use crate::card::{MyNumberAccess, VirtualCard};
use crate::faults::{Action, Faults, GARBAGE};

/// The TCP port of the first slot of the packaged vpcd reader (CHANNELID 0x8C7B).
pub const DEFAULT_PORT: u16 = 35963;

/// A virtual card inserted into a vpcd reader. Dropping it removes the card.
pub struct VpcdCard {
    stream: TcpStream,
    thread: Option<JoinHandle<VirtualCard>>,
    log: Arc<Mutex<Vec<Zeroizing<Vec<u8>>>>>,
    count: Arc<AtomicUsize>,
    my_number: Arc<Mutex<Vec<MyNumberAccess>>>,
}

impl VpcdCard {
    /// Connects to vpcd on `127.0.0.1:port`, which inserts the card.
    pub fn insert(card: VirtualCard, port: u16, faults: Faults) -> Result<Self, VirtualCardError> {
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))
            .map_err(|source| VirtualCardError::Vpcd { port, source })?;
        // Small frames both ways; don't let Nagle add latency to every APDU.
        stream
            .set_nodelay(true)
            .map_err(|source| VirtualCardError::Vpcd { port, source })?;
        let reader = stream
            .try_clone()
            .map_err(|source| VirtualCardError::Vpcd { port, source })?;
        let log = Arc::new(Mutex::new(Vec::new()));
        let count = Arc::new(AtomicUsize::new(0));
        let my_number = Arc::new(Mutex::new(card.my_number_accesses().to_vec()));
        let (l, c, m) = (Arc::clone(&log), Arc::clone(&count), Arc::clone(&my_number));
        let thread = std::thread::Builder::new()
            .name(format!("vpcd-card-{port}"))
            .spawn(move || serve(reader, card, &faults, &l, &c, &m))
            .map_err(|source| VirtualCardError::Vpcd { port, source })?;
        Ok(Self {
            stream,
            thread: Some(thread),
            log,
            count,
            my_number,
        })
    }

    /// Removes the card (closes the socket) and returns its state, counters included.
    pub fn remove(mut self) -> Option<VirtualCard> {
        self.close()
    }

    fn close(&mut self) -> Option<VirtualCard> {
        let _ = self.stream.shutdown(Shutdown::Both);
        self.thread.take().and_then(|t| t.join().ok())
    }

    /// Whether vpcd still holds the connection (false after a fault removed the card or pcscd went away).
    pub fn is_inserted(&self) -> bool {
        self.thread.as_ref().is_some_and(|t| !t.is_finished())
    }

    /// Command APDUs received so far.
    pub fn apdu_log(&self) -> Vec<Zeroizing<Vec<u8>>> {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    pub fn apdu_count(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }

    /// Commands so far that named a 個人番号 EF ([`VirtualCard::my_number_accesses`], live).
    pub fn my_number_accesses(&self) -> Vec<MyNumberAccess> {
        self.my_number.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

impl Drop for VpcdCard {
    fn drop(&mut self) {
        self.close();
    }
}

fn read_frame(s: &mut TcpStream) -> io::Result<Zeroizing<Vec<u8>>> {
    let mut len = [0u8; 2];
    quick_ack(s);
    s.read_exact(&mut len)?;
    quick_ack(s);
    let mut buf = Zeroizing::new(vec![0u8; usize::from(u16::from_be_bytes(len))]);
    s.read_exact(&mut buf)?;
    quick_ack(s);
    Ok(buf)
}

/// vpcd writes a frame's length and its payload separately, with Nagle's algorithm on, so the payload
/// waits for our ACK of the length; a delayed ACK (40 ms on Linux) then stalls every APDU. Acknowledge at
/// once instead. Linux clears the flag by itself, hence setting it around every read; failure only costs
/// latency.
#[cfg(target_os = "linux")]
fn quick_ack(s: &TcpStream) {
    let _ = socket2::SockRef::from(s).set_quickack(true);
}

#[cfg(not(target_os = "linux"))]
fn quick_ack(_: &TcpStream) {}

fn write_frame(s: &mut TcpStream, payload: &[u8]) -> io::Result<()> {
    let len = u16::try_from(payload.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "frame too long"))?;
    let mut frame = Zeroizing::new(Vec::with_capacity(payload.len() + 2));
    frame.extend_from_slice(&len.to_be_bytes());
    frame.extend_from_slice(payload);
    s.write_all(&frame)
}

fn serve(
    mut s: TcpStream,
    mut card: VirtualCard,
    faults: &Faults,
    log: &Mutex<Vec<Zeroizing<Vec<u8>>>>,
    count: &AtomicUsize,
    my_number: &Mutex<Vec<MyNumberAccess>>,
) -> VirtualCard {
    loop {
        let Ok(msg) = read_frame(&mut s) else { break };
        let reply: Option<Zeroizing<Vec<u8>>> = match msg.as_slice() {
            [0x00] | [0x01] | [0x02] => {
                card.reset();
                None
            }
            [0x04] => Some(Zeroizing::new(card.atr().to_vec())),
            [_] | [] => None,
            apdu => {
                let n = count.fetch_add(1, Ordering::SeqCst) + 1;
                if let Ok(mut l) = log.lock() {
                    l.push(Zeroizing::new(apdu.to_vec()));
                }
                match faults.action(n) {
                    Action::Remove => break,
                    Action::Garbage => Some(Zeroizing::new(GARBAGE.to_vec())),
                    Action::Answer => {
                        if let Some(d) = faults.delay {
                            std::thread::sleep(d);
                        }
                        let answer = card.process(apdu);
                        if let Ok(mut m) = my_number.lock()
                            && m.len() < card.my_number_accesses().len()
                        {
                            m.clear();
                            m.extend_from_slice(card.my_number_accesses());
                        }
                        Some(answer)
                    }
                }
            }
        };
        if let Some(r) = reply
            && write_frame(&mut s, &r).is_err()
        {
            break;
        }
    }
    let _ = s.shutdown(Shutdown::Both);
    card.reset();
    card
}
