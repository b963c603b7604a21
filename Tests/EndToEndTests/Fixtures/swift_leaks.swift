// Swift leaks: class instances retained in a global array, and raw memory from UnsafeMutableRawPointer.
final class Session {
    let id: Int
    let payload: (Int, Int, Int, Int)

    init(id: Int) {
        self.id = id
        payload = (id, id, id, id)
    }
}

var sessions: [Session] = []
var buffers: [UnsafeMutableRawPointer] = []

@inline(never)
func openSession(_ id: Int) {
    let session = Session(id: id)
    sessions.append(session)
}

@inline(never)
func rawBuffer() {
    let buffer = UnsafeMutableRawPointer.allocate(byteCount: 4096, alignment: 16)
    buffers.append(buffer)
}

for i in 0..<10 { openSession(i) }
rawBuffer()
print("sessions \(sessions.count) capacity \(sessions.capacity) buffers \(buffers.count)")
