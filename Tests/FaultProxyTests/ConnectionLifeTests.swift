@testable import FaultProxy
import FaultModel
import Testing

/// The two legs' life without sockets: what happened in, what to do out.
@Suite("Connection life")
struct ConnectionLifeTests {
    @Test func theServerIsDialledOnceAndNotWhileSilencedOrAfterTheClientLeft() {
        var life = ConnectionLife()
        #expect(!life.shouldDial(silenced: true), "a pulled cable: not even the SYN")
        #expect(life.shouldDial(silenced: false))
        life.dialling()
        #expect(!life.shouldDial(silenced: false), "dialled once")
        let r1 = life.attached()
        #expect(r1 == .relay)
        #expect(life.serverAttached)

        var gone = ConnectionLife()
        let synthesised = gone.legInactive(.client)
        #expect(synthesised, "a client that vanishes without FIN gets one synthesised")
        #expect(!gone.shouldDial(silenced: false), "nothing is dialled for a client that left")
        let r2 = gone.end(serverSocketOpen: false)
        #expect(r2, "and the connection ends with it")
    }

    @Test func halfClosesTravelBothWaysAndTheSocketGoesWhenBothAreDone() {
        var life = ConnectionLife()
        life.dialling()
        _ = life.attached()
        // The client sends FIN: it is forwarded to the server as a half-close.
        let r3 = life.peerClosed(.client, how: .fin)
        #expect(r3)
        let r4 = life.peerClosed(.client, how: .fin)
        #expect(!r4, "a repeated report is ignored")
        let r5 = life.forwardFIN(to: .server)
        #expect(r5 == .halfClose)
        let r6 = life.forwardFIN(to: .server)
        #expect(r6 == .none, "one FIN per leg")
        #expect(life.writable(.client), "the server may still answer")
        // The server answers and closes: the client leg already sent FIN, so it closes for good.
        let r7 = life.peerClosed(.server, how: .fin)
        #expect(r7)
        let r8 = life.forwardFIN(to: .client)
        #expect(r8 == .close)
        #expect(life.finishedBothWays(.client))
        let r9 = life.end(serverSocketOpen: false)
        #expect(!r9, "sockets still open")
        _ = life.legInactive(.client)
        _ = life.legInactive(.server)
        let r10 = life.end(serverSocketOpen: true)
        #expect(!r10, "not before the server socket is really closed")
        let r11 = life.end(serverSocketOpen: false)
        #expect(r11)
        let r12 = life.end(serverSocketOpen: false)
        #expect(!r12, "ends once")
    }

    @Test func aResetClosesTheLegAtOnce() {
        var life = ConnectionLife()
        life.dialling()
        _ = life.attached()
        let r13 = life.peerClosed(.server, how: .rst)
        #expect(r13)
        #expect(!life.writable(.server))
        let r14 = life.forwardRST(to: .client)
        #expect(r14)
        let r15 = life.forwardRST(to: .client)
        #expect(!r15, "reset once")
        #expect(!life.writable(.client))
        let r16 = life.forwardFIN(to: .client)
        #expect(r16 == .none, "nothing after a reset")
        let synthesised = life.legInactive(.server)
        #expect(!synthesised, "no FIN is synthesised after a RST")
    }

    @Test func aCloseDecidedWhileDiallingIsAppliedOnAttach() {
        var life = ConnectionLife()
        life.dialling()
        let r17 = life.closeByProxy(fault: "cut", how: .rst)
        #expect(r17 == [.client])
        let r18 = life.end(serverSocketOpen: false)
        #expect(!r18, "the dial is still under way")
        let r19 = life.attached() == .close(fault: "cut", how: .rst)
        #expect(r19)
        let r20 = life.end(serverSocketOpen: false)
        #expect(r20)
    }

    @Test func aCloseBeforeAnyDialClosesOnlyTheClient() {
        var life = ConnectionLife()
        let r21 = life.closeByProxy(fault: "cut", how: .fin)
        #expect(r21 == [.client])
        #expect(!life.shouldDial(silenced: false))
        let r22 = life.closeByProxy(fault: "cut", how: .fin)
        #expect(r22 == [], "closed once")
        let r23 = life.end(serverSocketOpen: false)
        #expect(r23)
    }

    @Test func anUnreachableServerClosesTheClientOnce() {
        var life = ConnectionLife()
        life.dialling()
        let r24 = life.upstreamFailed()
        #expect(r24)
        #expect(!life.writable(.client))
        let r25 = life.end(serverSocketOpen: false)
        #expect(r25)

        var left = ConnectionLife()
        left.dialling()
        _ = left.legInactive(.client)
        let r26 = left.upstreamFailed()
        #expect(!r26, "the client already left: nothing to close")
    }
}
