/*
 * p4clone data plane for Tofino 1 (TNA): bump-in-the-wire forwarding plus
 * SPAN-style traffic cloning to clone servers.
 *
 * The same contract as p4src/traffic_clone.p4 (docs/dataplane.md); where the
 * two programs differ is listed in docs/dataplane.md, "The TNA program".
 * Every P4Runtime object that exists in both programs has the v1model
 * program's @name and @id; the hand-kept P4Info is
 * p4src/traffic_clone_tna.p4info.txtpb.
 *
 * How the contract maps onto TNA:
 *   - cloning: the ingress sets ig_dprsr_md.mirror_type and the ingress
 *     deparser emits the copy with Mirror.emit(session = member id, header
 *     carrying the member id). The copy enters the egress parser with that
 *     header first; the egress keys clone_rewrite on it (a Stratum clone
 *     session has one replica with instance 0, so there is no egress_rid).
 *   - originals bypass the egress (they leave unchanged), so every packet the
 *     egress sees is a clone;
 *   - truncation is done by the mirror session (P4Runtime packet_length_bytes,
 *     Stratum's $max_pkt_len), never by the program: clone_rewrite_set keeps
 *     its truncate_len parameter so that both programs take the same entries,
 *     and ignores it (p4clone writes 0 on Tofino devices);
 *   - the flow hash is a Hash<> with the CRC-32 polynomial; the reduction
 *     `crc32 % member_count` (Tofino has no run-time modulo) is done by four
 *     hidden constant tables of per-byte residues and at most three
 *     conditional subtractions;
 *   - the round-robin cursor is a Register with one RegisterAction;
 *   - checksums: the egress parser takes the residual of every checksum the
 *     NAT restore may touch (Checksum.subtract of the old checksum and the old
 *     fields), the egress deparser adds the new fields (Checksum.update), which
 *     is the incremental update of RFC 1624 (HC' = ~(~HC + ~m + m'));
 *   - actions only assign; each table is applied at most once per pass.
 */

#include <core.p4>
#include <tna.p4>

/* ------------------------------------------------------------------------ */
/* Constants                                                                 */
/* ------------------------------------------------------------------------ */

const bit<16> ETHERTYPE_VLAN = 16w0x8100;
const bit<16> ETHERTYPE_IPV4 = 16w0x0800;
const bit<16> ETHERTYPE_IPV6 = 16w0x86DD;

const bit<8> IPPROTO_TCP = 8w6;
const bit<8> IPPROTO_UDP = 8w17;

/* classify_hit `mode`: 1 = symmetric flow hash, anything else = round robin. */
const bit<8> MODE_FLOW_HASH = 8w1;

/* The mirror type of a clone (ig_dprsr_md.mirror_type; 0 = no mirror). */
const MirrorType_t CLONE_MIRROR_TYPE = 3w1;

/* ------------------------------------------------------------------------ */
/* Headers                                                                   */
/* ------------------------------------------------------------------------ */

/* Prepended to a clone by the ingress deparser (Mirror.emit); the egress
 * parser extracts it and the egress deparser does not emit it. */
header clone_md_h {
    bit<16> member;
}

header ethernet_t {
    bit<48> dst_addr;
    bit<48> src_addr;
    bit<16> ether_type;
}

/* 802.1Q tag; ether_type is the encapsulated EtherType. */
header vlan_t {
    bit<3>  pcp;
    bit<1>  dei;
    bit<12> vid;
    bit<16> ether_type;
}

header ipv4_t {
    bit<4>  version;
    bit<4>  ihl;
    bit<8>  diffserv;
    bit<16> total_len;
    bit<16> identification;
    bit<3>  flags;
    bit<13> frag_offset;
    bit<8>  ttl;
    bit<8>  protocol;
    bit<16> hdr_checksum;
    bit<32> src_addr;
    bit<32> dst_addr;
}

/* IPv4 options: (ihl - 5) * 4 bytes, at most 40 bytes (ihl = 15). */
header ipv4_options_t {
    varbit<320> options;
}

header ipv6_t {
    bit<4>   version;
    bit<8>   traffic_class;
    bit<20>  flow_label;
    bit<16>  payload_len;
    bit<8>   next_header;
    bit<8>   hop_limit;
    bit<128> src_addr;
    bit<128> dst_addr;
}

/* TCP fixed header; options are not parsed (they stay payload). */
header tcp_t {
    bit<16> src_port;
    bit<16> dst_port;
    bit<32> seq_no;
    bit<32> ack_no;
    bit<4>  data_offset;
    bit<4>  res;
    bit<8>  flags;
    bit<16> window;
    bit<16> checksum;
    bit<16> urgent_ptr;
}

header udp_t {
    bit<16> src_port;
    bit<16> dst_port;
    bit<16> length;
    bit<16> checksum;
}

/* One header struct for both pipes; clone_md is only ever valid in egress. */
struct headers_t {
    clone_md_h     clone_md;
    ethernet_t     ethernet;
    vlan_t         vlan;
    ipv4_t         ipv4;
    ipv4_options_t ipv4_options;
    ipv6_t         ipv6;
    tcp_t          tcp;
    udp_t          udp;
}

struct ig_metadata_t {
    /* TCP or UDP ports, 0 when neither header is valid. */
    bit<16>    l4_src_port;
    bit<16>    l4_dst_port;

    /* Classification result and member selection. */
    bit<1>     classified;
    bit<16>    first_member;
    bit<16>    member_count;
    bit<16>    member_last;     /* member_count - 1 */
    bit<8>     mode;
    bit<16>    member_offset;
    bit<16>    member;
    MirrorId_t session;         /* = member (ids are 1..1015 on Tofino) */

    /* Flow hash and its reduction modulo member_count. */
    bit<32>    hash;
    bit<8>     residue0;
    bit<8>     residue1;
    bit<8>     residue2;
    bit<8>     residue3;
}

struct eg_metadata_t {
    /* TCP or UDP ports of the clone, 0 when neither header is valid. */
    bit<16>  l4_src_port;
    bit<16>  l4_dst_port;

    /* clone_rewrite_set parameters (truncate_len is not used on Tofino). */
    bit<48>  dst_mac;
    bit<48>  src_mac;
    bit<12>  vlan_id;
    bit<1>   nat_restore;

    /* NAT binding found by nat_set_v4 / nat_set_v6. */
    bit<32>  nat_addr4;
    bit<128> nat_addr6;
    bit<16>  nat_port;

    /* Checksum residuals taken by the egress parser, and which checksums the
     * egress deparser must update. */
    bit<16>  ipv4_residual;
    bit<16>  l4_residual;
    bit<1>   update_ipv4;
    bit<1>   update_tcp4;
    bit<1>   update_udp4;
    bit<1>   update_tcp6;
    bit<1>   update_udp6;
}

/* ------------------------------------------------------------------------ */
/* Ingress                                                                   */
/* ------------------------------------------------------------------------ */

/*
 * Ethernet, one optional 802.1Q tag, IPv4 (with options) or IPv6, TCP or UDP.
 * A header that fails its check (IPv4 version != 4 or ihl < 5, IPv6 version
 * != 6) stays valid and parsing stops there, as after v1model's verify().
 * Only the trailing @optional intrinsic metadata the program does not use are
 * left out of the parser and deparser signatures.
 */
parser TcIngressParser(packet_in pkt,
                       out headers_t hdr,
                       out ig_metadata_t meta,
                       out ingress_intrinsic_metadata_t ig_intr_md) {

    state start {
        meta.l4_src_port = 16w0;
        meta.l4_dst_port = 16w0;
        meta.classified = 1w0;
        meta.first_member = 16w0;
        meta.member_count = 16w0;
        meta.member_last = 16w0;
        meta.mode = 8w0;
        meta.member_offset = 16w0;
        meta.member = 16w0;
        meta.session = 0;
        meta.hash = 32w0;
        meta.residue0 = 8w0;
        meta.residue1 = 8w0;
        meta.residue2 = 8w0;
        meta.residue3 = 8w0;
        pkt.extract(ig_intr_md);
        pkt.advance(PORT_METADATA_SIZE);
        transition parse_ethernet;
    }

    state parse_ethernet {
        pkt.extract(hdr.ethernet);
        transition select(hdr.ethernet.ether_type) {
            ETHERTYPE_VLAN: parse_vlan;
            ETHERTYPE_IPV4: parse_ipv4;
            ETHERTYPE_IPV6: parse_ipv6;
            default: accept;
        }
    }

    /* One 802.1Q tag; a second tag (0x8100 again) is left as payload. */
    state parse_vlan {
        pkt.extract(hdr.vlan);
        transition select(hdr.vlan.ether_type) {
            ETHERTYPE_IPV4: parse_ipv4;
            ETHERTYPE_IPV6: parse_ipv6;
            default: accept;
        }
    }

    state parse_ipv4 {
        pkt.extract(hdr.ipv4);
        transition select(hdr.ipv4.version, hdr.ipv4.ihl) {
            (4w4, 4w5): parse_ipv4_l4;
            (4w4, 4w6 &&& 4w0xe): parse_ipv4_options;  /* 6, 7 */
            (4w4, 4w8 &&& 4w0x8): parse_ipv4_options;  /* 8..15 */
            default: accept;                           /* failed check */
        }
    }

    state parse_ipv4_options {
        /* ihl >= 6 here, so the length cannot underflow. */
        pkt.extract(hdr.ipv4_options, ((bit<32>)hdr.ipv4.ihl - 32w5) * 32w32);
        transition parse_ipv4_l4;
    }

    /* Non-first fragments carry no L4 header: stop. */
    state parse_ipv4_l4 {
        transition select(hdr.ipv4.frag_offset, hdr.ipv4.protocol) {
            (13w0, IPPROTO_TCP): parse_tcp;
            (13w0, IPPROTO_UDP): parse_udp;
            default: accept;
        }
    }

    /* Extension headers are not walked. */
    state parse_ipv6 {
        pkt.extract(hdr.ipv6);
        transition select(hdr.ipv6.version, hdr.ipv6.next_header) {
            (4w6, IPPROTO_TCP): parse_tcp;
            (4w6, IPPROTO_UDP): parse_udp;
            default: accept;
        }
    }

    state parse_tcp {
        pkt.extract(hdr.tcp);
        transition accept;
    }

    state parse_udp {
        pkt.extract(hdr.udp);
        transition accept;
    }
}

/* A residue table entry: (member_count N, byte value 0xHL) -> byte * 2^(8K) mod N. */
#define TC_RESIDUE(K, N, H, L) \
    (16w##N, 8w0x##H##L) : residue##K##_set((bit<8>)((0x##H##L * ((1 << (8 * K)) % N)) % N));
#define TC_RESIDUE_ROW(K, N, H) \
    TC_RESIDUE(K, N, H, 0) TC_RESIDUE(K, N, H, 1) TC_RESIDUE(K, N, H, 2) TC_RESIDUE(K, N, H, 3) \
    TC_RESIDUE(K, N, H, 4) TC_RESIDUE(K, N, H, 5) TC_RESIDUE(K, N, H, 6) TC_RESIDUE(K, N, H, 7) \
    TC_RESIDUE(K, N, H, 8) TC_RESIDUE(K, N, H, 9) TC_RESIDUE(K, N, H, a) TC_RESIDUE(K, N, H, b) \
    TC_RESIDUE(K, N, H, c) TC_RESIDUE(K, N, H, d) TC_RESIDUE(K, N, H, e) TC_RESIDUE(K, N, H, f)
#define TC_RESIDUE_BYTES(K, N) \
    TC_RESIDUE_ROW(K, N, 0) TC_RESIDUE_ROW(K, N, 1) TC_RESIDUE_ROW(K, N, 2) TC_RESIDUE_ROW(K, N, 3) \
    TC_RESIDUE_ROW(K, N, 4) TC_RESIDUE_ROW(K, N, 5) TC_RESIDUE_ROW(K, N, 6) TC_RESIDUE_ROW(K, N, 7) \
    TC_RESIDUE_ROW(K, N, 8) TC_RESIDUE_ROW(K, N, 9) TC_RESIDUE_ROW(K, N, a) TC_RESIDUE_ROW(K, N, b) \
    TC_RESIDUE_ROW(K, N, c) TC_RESIDUE_ROW(K, N, d) TC_RESIDUE_ROW(K, N, e) TC_RESIDUE_ROW(K, N, f)
/* member_count 1..10: a profile has at most 10 clone servers. */
#define TC_RESIDUE_ENTRIES(K) \
    TC_RESIDUE_BYTES(K, 1) TC_RESIDUE_BYTES(K, 2) TC_RESIDUE_BYTES(K, 3) TC_RESIDUE_BYTES(K, 4) \
    TC_RESIDUE_BYTES(K, 5) TC_RESIDUE_BYTES(K, 6) TC_RESIDUE_BYTES(K, 7) TC_RESIDUE_BYTES(K, 8) \
    TC_RESIDUE_BYTES(K, 9) TC_RESIDUE_BYTES(K, 10)

/* Hidden (not in the P4Info), constant residue table K: byte K of the hash. */
#define TC_RESIDUE_TABLE(K, HI, LO)                                   \
    @hidden action residue##K##_set(bit<8> r) { meta.residue##K = r; } \
    @hidden table residue##K {                                         \
        key = {                                                        \
            meta.member_count: exact;                                  \
            meta.hash[HI:LO]: exact;                                   \
        }                                                              \
        actions = { residue##K##_set; }                                \
        const entries = { TC_RESIDUE_ENTRIES(K) }                      \
        const default_action = residue##K##_set(8w0);                  \
        size = 2560;                                                   \
    }

control TcIngress(inout headers_t hdr,
                  inout ig_metadata_t meta,
                  in ingress_intrinsic_metadata_t ig_intr_md,
                  in ingress_intrinsic_metadata_from_parser_t ig_prsr_md,
                  inout ingress_intrinsic_metadata_for_deparser_t ig_dprsr_md,
                  inout ingress_intrinsic_metadata_for_tm_t ig_tm_md) {

    @name(".clones_requested") @id(0x12000001)
    Counter<bit<32>, bit<16>>(32w32768, CounterType_t.PACKETS_AND_BYTES) clones_requested;

    /* Round-robin cursor per profile, indexed by the profile's first member. */
    @name(".rr_cursor") @id(0x16000001)
    Register<bit<16>, bit<16>>(32w32768, 16w0) rr_cursor;

    /* offset = (c >= count) ? 0 : c; the cursor moves to offset + 1, wrapping
     * to 0 at count. */
    RegisterAction<bit<16>, bit<16>, bit<16>>(rr_cursor) rr_next = {
        void apply(inout bit<16> value, out bit<16> rv) {
            rv = 16w0;
            if (value < meta.member_count) {
                rv = value;
            }
            if (value < meta.member_last) {
                value = value + 16w1;
            } else if (value == meta.member_last || meta.member_last == 16w0) {
                value = 16w0;
            } else {
                value = 16w1;
            }
        }
    };

    /* CRC-32 (IEEE 802.3, reflected, init and xor-out 0xFFFFFFFF), as BMv2's crc32. */
    CRCPolynomial<bit<32>>(32w0x04C11DB7, true, false, false, 32w0xFFFFFFFF, 32w0xFFFFFFFF) crc32_v4;
    CRCPolynomial<bit<32>>(32w0x04C11DB7, true, false, false, 32w0xFFFFFFFF, 32w0xFFFFFFFF) crc32_v6;
    Hash<bit<32>>(HashAlgorithm_t.CUSTOM, crc32_v4) flow_hash_v4;
    Hash<bit<32>>(HashAlgorithm_t.CUSTOM, crc32_v6) flow_hash_v6;

    @name(".wire_forward") @id(0x01000001)
    action wire_forward(PortId_t port) {
        ig_tm_md.ucast_egress_port = port;
    }

    @name(".wire_drop") @id(0x01000002)
    action wire_drop() {
        ig_dprsr_md.drop_ctl = 3w1;
    }

    @name(".classify_hit") @id(0x01000003)
    action classify_hit(bit<16> first_member, bit<16> member_count, bit<8> mode) {
        meta.first_member = first_member;
        meta.member_count = member_count;
        meta.mode = mode;
        meta.classified = 1w1;
    }

    @name(".classify_miss") @id(0x01000004)
    action classify_miss() { }

    @name(".wire") @id(0x02000001)
    table wire {
        key = {
            ig_intr_md.ingress_port: exact @name("ingress_port");
        }
        actions = {
            wire_forward;
            wire_drop;
        }
        default_action = wire_drop();
        size = 512;
    }

    /* No direct counter: TNA counts a DirectCounter only from its own table's
     * actions, and classify_hit is shared by both classify tables. */
    @name(".clone_classify_v4") @id(0x02000002)
    table clone_classify_v4 {
        key = {
            hdr.ipv4.src_addr: ternary @name("src_addr");
            hdr.ipv4.dst_addr: ternary @name("dst_addr");
            hdr.ipv4.protocol: ternary @name("protocol");
            meta.l4_src_port:  ternary @name("l4_src_port");
            meta.l4_dst_port:  ternary @name("l4_dst_port");
        }
        actions = {
            classify_hit;
            classify_miss;
        }
        default_action = classify_miss();
        size = 8192;
    }

    @name(".clone_classify_v6") @id(0x02000003)
    table clone_classify_v6 {
        key = {
            hdr.ipv6.src_addr:    ternary @name("src_addr");
            hdr.ipv6.dst_addr:    ternary @name("dst_addr");
            hdr.ipv6.next_header: ternary @name("next_header");
            meta.l4_src_port:     ternary @name("l4_src_port");
            meta.l4_dst_port:     ternary @name("l4_dst_port");
        }
        actions = {
            classify_hit;
            classify_miss;
        }
        default_action = classify_miss();
        size = 2048;
    }

    TC_RESIDUE_TABLE(0, 7, 0)
    TC_RESIDUE_TABLE(1, 15, 8)
    TC_RESIDUE_TABLE(2, 23, 16)
    TC_RESIDUE_TABLE(3, 31, 24)

    apply {
        /* Flow hash: the (address, port) pairs ordered so that both
         * directions of a connection hash alike. */
        bit<32>  lo_addr4 = 32w0;
        bit<32>  hi_addr4 = 32w0;
        bit<128> lo_addr6 = 128w0;
        bit<128> hi_addr6 = 128w0;
        bit<16>  lo_port = 16w0;
        bit<16>  hi_port = 16w0;
        bit<16>  sum = 16w0;

        /* Originals leave unchanged: they skip the egress, which therefore
         * only ever sees clones. */
        ig_tm_md.bypass_egress = 1w1;

        meta.classified = 1w0;
        meta.first_member = 16w0;
        meta.member_count = 16w0;
        meta.mode = 8w0;
        meta.l4_src_port = 16w0;
        meta.l4_dst_port = 16w0;
        if (hdr.tcp.isValid()) {
            meta.l4_src_port = hdr.tcp.src_port;
            meta.l4_dst_port = hdr.tcp.dst_port;
        } else if (hdr.udp.isValid()) {
            meta.l4_src_port = hdr.udp.src_port;
            meta.l4_dst_port = hdr.udp.dst_port;
        }

        /* wire miss -> wire_drop: dropped and never classified. */
        if (wire.apply().hit) {
            if (hdr.tcp.isValid() || hdr.udp.isValid()) {
                if (hdr.ipv4.isValid()) {
                    clone_classify_v4.apply();
                } else if (hdr.ipv6.isValid()) {
                    clone_classify_v6.apply();
                }
            }

            if (meta.classified == 1w1 && meta.member_count != 16w0) {
                meta.member_last = meta.member_count - 16w1;
                if (meta.mode == MODE_FLOW_HASH) {
                    /* lo = the smaller of (src_addr, src_port) and
                     * (dst_addr, dst_port), compared as (addr, then port). */
                    lo_port = meta.l4_src_port;
                    hi_port = meta.l4_dst_port;
                    if (hdr.ipv4.isValid()) {
                        lo_addr4 = hdr.ipv4.src_addr;
                        hi_addr4 = hdr.ipv4.dst_addr;
                        if (hdr.ipv4.src_addr > hdr.ipv4.dst_addr ||
                            (hdr.ipv4.src_addr == hdr.ipv4.dst_addr &&
                             meta.l4_src_port > meta.l4_dst_port)) {
                            lo_addr4 = hdr.ipv4.dst_addr;
                            hi_addr4 = hdr.ipv4.src_addr;
                            lo_port = meta.l4_dst_port;
                            hi_port = meta.l4_src_port;
                        }
                        /* 13 bytes: lo_addr(4) hi_addr(4) lo_port(2) hi_port(2) protocol(1). */
                        meta.hash = flow_hash_v4.get({ lo_addr4, hi_addr4, lo_port, hi_port,
                                                       hdr.ipv4.protocol });
                    } else {
                        lo_addr6 = hdr.ipv6.src_addr;
                        hi_addr6 = hdr.ipv6.dst_addr;
                        if (hdr.ipv6.src_addr > hdr.ipv6.dst_addr ||
                            (hdr.ipv6.src_addr == hdr.ipv6.dst_addr &&
                             meta.l4_src_port > meta.l4_dst_port)) {
                            lo_addr6 = hdr.ipv6.dst_addr;
                            hi_addr6 = hdr.ipv6.src_addr;
                            lo_port = meta.l4_dst_port;
                            hi_port = meta.l4_src_port;
                        }
                        /* 37 bytes: 16 16 2 2 1. */
                        meta.hash = flow_hash_v6.get({ lo_addr6, hi_addr6, lo_port, hi_port,
                                                       hdr.ipv6.next_header });
                    }
                    /* hash % count = (sum over bytes of byte * 2^(8k) mod count) mod
                     * count; each residue is < count, so the sum is < 4 * count and
                     * three conditional subtractions finish the reduction. */
                    residue0.apply();
                    residue1.apply();
                    residue2.apply();
                    residue3.apply();
                    sum = (bit<16>)meta.residue0 + (bit<16>)meta.residue1 +
                          (bit<16>)meta.residue2 + (bit<16>)meta.residue3;
                    if (sum >= meta.member_count) {
                        sum = sum - meta.member_count;
                    }
                    if (sum >= meta.member_count) {
                        sum = sum - meta.member_count;
                    }
                    if (sum >= meta.member_count) {
                        sum = sum - meta.member_count;
                    }
                    meta.member_offset = sum;
                } else {
                    /* Round robin: read, wrap and advance the cursor in one
                     * stateful operation. */
                    meta.member_offset = rr_next.execute(meta.first_member);
                }

                meta.member = meta.first_member + meta.member_offset;
                meta.session = (MirrorId_t)meta.member;
                clones_requested.count(meta.member);
                /* Session id = member id; the ingress deparser emits the copy. */
                ig_dprsr_md.mirror_type = CLONE_MIRROR_TYPE;
            }
        }
    }
}

control TcIngressDeparser(packet_out pkt,
                          inout headers_t hdr,
                          in ig_metadata_t meta,
                          in ingress_intrinsic_metadata_for_deparser_t ig_dprsr_md) {

    Mirror(CLONE_MIRROR_TYPE) mirror;

    apply {
        if (ig_dprsr_md.mirror_type == CLONE_MIRROR_TYPE) {
            /* The clone carries its member id to the egress. */
            mirror.emit<clone_md_h>(meta.session, { meta.member });
        }
        pkt.emit(hdr);
    }
}

/* ------------------------------------------------------------------------ */
/* Egress (clones only: originals bypass it)                                 */
/* ------------------------------------------------------------------------ */

parser TcEgressParser(packet_in pkt,
                      out headers_t hdr,
                      out eg_metadata_t meta,
                      out egress_intrinsic_metadata_t eg_intr_md) {

    /* Residuals: ~checksum + ~(every field the NAT restore may change). */
    Checksum() ipv4_residual;
    Checksum() l4_residual;

    state start {
        meta.l4_src_port = 16w0;
        meta.l4_dst_port = 16w0;
        meta.dst_mac = 48w0;
        meta.src_mac = 48w0;
        meta.vlan_id = 12w0;
        meta.nat_restore = 1w0;
        meta.nat_addr4 = 32w0;
        meta.nat_addr6 = 128w0;
        meta.nat_port = 16w0;
        meta.ipv4_residual = 16w0;
        meta.l4_residual = 16w0;
        meta.update_ipv4 = 1w0;
        meta.update_tcp4 = 1w0;
        meta.update_udp4 = 1w0;
        meta.update_tcp6 = 1w0;
        meta.update_udp6 = 1w0;
        pkt.extract(eg_intr_md);
        pkt.extract(hdr.clone_md);
        transition parse_ethernet;
    }

    state parse_ethernet {
        pkt.extract(hdr.ethernet);
        transition select(hdr.ethernet.ether_type) {
            ETHERTYPE_VLAN: parse_vlan;
            ETHERTYPE_IPV4: parse_ipv4;
            ETHERTYPE_IPV6: parse_ipv6;
            default: accept;
        }
    }

    state parse_vlan {
        pkt.extract(hdr.vlan);
        transition select(hdr.vlan.ether_type) {
            ETHERTYPE_IPV4: parse_ipv4;
            ETHERTYPE_IPV6: parse_ipv6;
            default: accept;
        }
    }

    state parse_ipv4 {
        pkt.extract(hdr.ipv4);
        ipv4_residual.subtract({ hdr.ipv4.hdr_checksum, hdr.ipv4.src_addr, hdr.ipv4.dst_addr });
        meta.ipv4_residual = ipv4_residual.get();
        l4_residual.subtract({ hdr.ipv4.src_addr, hdr.ipv4.dst_addr });
        transition select(hdr.ipv4.version, hdr.ipv4.ihl) {
            (4w4, 4w5): parse_ipv4_l4;
            (4w4, 4w6 &&& 4w0xe): parse_ipv4_options;
            (4w4, 4w8 &&& 4w0x8): parse_ipv4_options;
            default: accept;
        }
    }

    state parse_ipv4_options {
        pkt.extract(hdr.ipv4_options, ((bit<32>)hdr.ipv4.ihl - 32w5) * 32w32);
        transition parse_ipv4_l4;
    }

    state parse_ipv4_l4 {
        transition select(hdr.ipv4.frag_offset, hdr.ipv4.protocol) {
            (13w0, IPPROTO_TCP): parse_tcp;
            (13w0, IPPROTO_UDP): parse_udp;
            default: accept;
        }
    }

    state parse_ipv6 {
        pkt.extract(hdr.ipv6);
        l4_residual.subtract({ hdr.ipv6.src_addr, hdr.ipv6.dst_addr });
        transition select(hdr.ipv6.version, hdr.ipv6.next_header) {
            (4w6, IPPROTO_TCP): parse_tcp;
            (4w6, IPPROTO_UDP): parse_udp;
            default: accept;
        }
    }

    state parse_tcp {
        pkt.extract(hdr.tcp);
        l4_residual.subtract({ hdr.tcp.checksum, hdr.tcp.src_port, hdr.tcp.dst_port });
        meta.l4_residual = l4_residual.get();
        transition accept;
    }

    state parse_udp {
        pkt.extract(hdr.udp);
        l4_residual.subtract({ hdr.udp.checksum, hdr.udp.src_port, hdr.udp.dst_port });
        meta.l4_residual = l4_residual.get();
        transition accept;
    }
}

control TcEgress(inout headers_t hdr,
                 inout eg_metadata_t meta,
                 in egress_intrinsic_metadata_t eg_intr_md,
                 in egress_intrinsic_metadata_from_parser_t eg_prsr_md,
                 inout egress_intrinsic_metadata_for_deparser_t eg_dprsr_md) {

    @name(".clones_emitted") @id(0x12000002)
    Counter<bit<32>, bit<16>>(32w32768, CounterType_t.PACKETS_AND_BYTES) clones_emitted;

    /* truncate_len is kept so that both programs take the same entries; on
     * Tofino the mirror session truncates (p4clone writes 0 here). */
    @name(".clone_rewrite_set") @id(0x01000005)
    action clone_rewrite_set(bit<48> dst_mac, bit<48> src_mac, bit<12> vlan_id,
                             bit<16> truncate_len, bit<1> nat_restore) {
        meta.dst_mac = dst_mac;
        meta.src_mac = src_mac;
        meta.vlan_id = vlan_id;
        meta.nat_restore = nat_restore;
    }

    /* A clone whose member has no rewrite entry is not emitted. */
    @name(".clone_rewrite_miss") @id(0x01000006)
    action clone_rewrite_miss() {
        eg_dprsr_md.drop_ctl = 3w1;
    }

    @name(".nat_set_v4") @id(0x01000007)
    action nat_set_v4(bit<32> client_addr, bit<16> client_port) {
        meta.nat_addr4 = client_addr;
        meta.nat_port = client_port;
    }

    @name(".nat_set_v6") @id(0x01000008)
    action nat_set_v6(bit<128> client_addr, bit<16> client_port) {
        meta.nat_addr6 = client_addr;
        meta.nat_port = client_port;
    }

    @name(".nat_miss") @id(0x01000009)
    action nat_miss() { }

    /* key: the member id from the mirror header */
    @name(".clone_rewrite") @id(0x02000004)
    table clone_rewrite {
        key = {
            hdr.clone_md.member: exact @name("member");
        }
        actions = {
            clone_rewrite_set;
            clone_rewrite_miss;
        }
        default_action = clone_rewrite_miss();
        size = 1024;
    }

    @name(".nat_src_v4") @id(0x02000005)
    table nat_src_v4 {
        key = {
            hdr.ipv4.src_addr: exact @name("addr");
            meta.l4_src_port:  exact @name("port");
            hdr.ipv4.protocol: exact @name("protocol");
        }
        actions = {
            nat_set_v4;
            nat_miss;
        }
        default_action = nat_miss();
        size = 16384;
    }

    @name(".nat_dst_v4") @id(0x02000006)
    table nat_dst_v4 {
        key = {
            hdr.ipv4.dst_addr: exact @name("addr");
            meta.l4_dst_port:  exact @name("port");
            hdr.ipv4.protocol: exact @name("protocol");
        }
        actions = {
            nat_set_v4;
            nat_miss;
        }
        default_action = nat_miss();
        size = 16384;
    }

    @name(".nat_src_v6") @id(0x02000007)
    table nat_src_v6 {
        key = {
            hdr.ipv6.src_addr:    exact @name("addr");
            meta.l4_src_port:     exact @name("port");
            hdr.ipv6.next_header: exact @name("next_header");
        }
        actions = {
            nat_set_v6;
            nat_miss;
        }
        default_action = nat_miss();
        size = 4096;
    }

    @name(".nat_dst_v6") @id(0x02000008)
    table nat_dst_v6 {
        key = {
            hdr.ipv6.dst_addr:    exact @name("addr");
            meta.l4_dst_port:     exact @name("port");
            hdr.ipv6.next_header: exact @name("next_header");
        }
        actions = {
            nat_set_v6;
            nat_miss;
        }
        default_action = nat_miss();
        size = 4096;
    }

    apply {
        meta.l4_src_port = 16w0;
        meta.l4_dst_port = 16w0;
        if (hdr.tcp.isValid()) {
            meta.l4_src_port = hdr.tcp.src_port;
            meta.l4_dst_port = hdr.tcp.dst_port;
        } else if (hdr.udp.isValid()) {
            meta.l4_src_port = hdr.udp.src_port;
            meta.l4_dst_port = hdr.udp.dst_port;
        }

        if (clone_rewrite.apply().hit) {
            clones_emitted.count(hdr.clone_md.member);

            hdr.ethernet.dst_addr = meta.dst_mac;
            hdr.ethernet.src_addr = meta.src_mac;

            if (meta.vlan_id == 12w0) {
                /* untagged: strip a tag if there is one */
                if (hdr.vlan.isValid()) {
                    hdr.ethernet.ether_type = hdr.vlan.ether_type;
                    hdr.vlan.setInvalid();
                }
            } else if (hdr.vlan.isValid()) {
                /* rewrite the VID; pcp and dei are kept */
                hdr.vlan.vid = meta.vlan_id;
            } else {
                /* push a tag */
                hdr.vlan.setValid();
                hdr.vlan.pcp = 3w0;
                hdr.vlan.dei = 1w0;
                hdr.vlan.vid = meta.vlan_id;
                hdr.vlan.ether_type = hdr.ethernet.ether_type;
                hdr.ethernet.ether_type = ETHERTYPE_VLAN;
            }

            /* The NAT lookups use the clone's original addresses and ports;
             * the deparser updates the checksums from the parser's residuals. */
            if (meta.nat_restore == 1w1) {
                if (hdr.ipv4.isValid()) {
                    if (nat_src_v4.apply().hit) {
                        hdr.ipv4.src_addr = meta.nat_addr4;
                        meta.update_ipv4 = 1w1;
                        if (hdr.tcp.isValid()) {
                            hdr.tcp.src_port = meta.nat_port;
                        } else if (hdr.udp.isValid()) {
                            hdr.udp.src_port = meta.nat_port;
                        }
                    }
                    if (nat_dst_v4.apply().hit) {
                        hdr.ipv4.dst_addr = meta.nat_addr4;
                        meta.update_ipv4 = 1w1;
                        if (hdr.tcp.isValid()) {
                            hdr.tcp.dst_port = meta.nat_port;
                        } else if (hdr.udp.isValid()) {
                            hdr.udp.dst_port = meta.nat_port;
                        }
                    }
                    if (meta.update_ipv4 == 1w1) {
                        if (hdr.tcp.isValid()) {
                            meta.update_tcp4 = 1w1;
                        } else if (hdr.udp.isValid() && hdr.udp.checksum != 16w0) {
                            meta.update_udp4 = 1w1;
                        }
                    }
                } else if (hdr.ipv6.isValid()) {
                    bit<1> changed = 1w0;
                    if (nat_src_v6.apply().hit) {
                        hdr.ipv6.src_addr = meta.nat_addr6;
                        changed = 1w1;
                        if (hdr.tcp.isValid()) {
                            hdr.tcp.src_port = meta.nat_port;
                        } else if (hdr.udp.isValid()) {
                            hdr.udp.src_port = meta.nat_port;
                        }
                    }
                    if (nat_dst_v6.apply().hit) {
                        hdr.ipv6.dst_addr = meta.nat_addr6;
                        changed = 1w1;
                        if (hdr.tcp.isValid()) {
                            hdr.tcp.dst_port = meta.nat_port;
                        } else if (hdr.udp.isValid()) {
                            hdr.udp.dst_port = meta.nat_port;
                        }
                    }
                    if (changed == 1w1) {
                        if (hdr.tcp.isValid()) {
                            meta.update_tcp6 = 1w1;
                        } else if (hdr.udp.isValid() && hdr.udp.checksum != 16w0) {
                            meta.update_udp6 = 1w1;
                        }
                    }
                }
            }
        }
    }
}

control TcEgressDeparser(packet_out pkt,
                         inout headers_t hdr,
                         in eg_metadata_t meta,
                         in egress_intrinsic_metadata_for_deparser_t eg_dprsr_md) {

    Checksum() ipv4_checksum;
    Checksum() tcp4_checksum;
    Checksum() udp4_checksum;
    Checksum() tcp6_checksum;
    Checksum() udp6_checksum;

    apply {
        /* HC' = ~(residual + the new fields): RFC 1624's incremental update.
         * One flat condition per checksum (the egress set at most one L4 flag). */
        if (meta.update_ipv4 == 1w1) {
            hdr.ipv4.hdr_checksum = ipv4_checksum.update({
                hdr.ipv4.src_addr, hdr.ipv4.dst_addr, meta.ipv4_residual });
        }
        if (meta.update_tcp4 == 1w1) {
            hdr.tcp.checksum = tcp4_checksum.update({
                hdr.ipv4.src_addr, hdr.ipv4.dst_addr,
                hdr.tcp.src_port, hdr.tcp.dst_port, meta.l4_residual });
        }
        if (meta.update_tcp6 == 1w1) {
            hdr.tcp.checksum = tcp6_checksum.update({
                hdr.ipv6.src_addr, hdr.ipv6.dst_addr,
                hdr.tcp.src_port, hdr.tcp.dst_port, meta.l4_residual });
        }
        /* RFC 768: a computed 0 is sent as all ones (0 = no checksum). */
        if (meta.update_udp4 == 1w1) {
            hdr.udp.checksum = udp4_checksum.update({
                hdr.ipv4.src_addr, hdr.ipv4.dst_addr,
                hdr.udp.src_port, hdr.udp.dst_port, meta.l4_residual }, true);
        }
        if (meta.update_udp6 == 1w1) {
            hdr.udp.checksum = udp6_checksum.update({
                hdr.ipv6.src_addr, hdr.ipv6.dst_addr,
                hdr.udp.src_port, hdr.udp.dst_port, meta.l4_residual }, true);
        }
        /* clone_md is not emitted: the clone leaves without it. */
        pkt.emit(hdr.ethernet);
        pkt.emit(hdr.vlan);
        pkt.emit(hdr.ipv4);
        pkt.emit(hdr.ipv4_options);
        pkt.emit(hdr.ipv6);
        pkt.emit(hdr.tcp);
        pkt.emit(hdr.udp);
    }
}

Pipeline(TcIngressParser(),
         TcIngress(),
         TcIngressDeparser(),
         TcEgressParser(),
         TcEgress(),
         TcEgressDeparser()) pipe;

Switch(pipe) main;
