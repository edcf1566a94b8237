/*
 * p4clone data plane: bump-in-the-wire forwarding plus SPAN-style traffic
 * cloning to clone servers (BMv2 simple_switch / v1model).
 *
 * This program implements docs/dataplane.md exactly; object names, ids,
 * bitwidths and processing are defined there. The hand-kept P4Info is
 * p4src/traffic_clone.p4info.txtpb; keep both in step with the contract.
 *
 * Target rules observed (DESIGN.md section 8):
 *   - actions only assign: every `if` sits in an `apply` block;
 *   - no `%` or `/` with a run-time operand (the round-robin cursor wraps by
 *     comparison, the flow hash reduces modulo member_count inside `hash`);
 *   - each table is applied at most once per control;
 *   - every P4Runtime-visible object has a global @name and a full @id.
 */

#include <core.p4>
#include <v1model.p4>

/* ------------------------------------------------------------------------ */
/* Constants                                                                 */
/* ------------------------------------------------------------------------ */

const bit<16> ETHERTYPE_VLAN = 16w0x8100;
const bit<16> ETHERTYPE_IPV4 = 16w0x0800;
const bit<16> ETHERTYPE_IPV6 = 16w0x86DD;

const bit<8> IPPROTO_TCP = 8w6;
const bit<8> IPPROTO_UDP = 8w17;
const bit<8> IPPROTO_GRE = 8w47;

/* Encapsulated delivery (clone_encap). */
const bit<16> UDP_PORT_VXLAN = 16w4789;
const bit<16> GRE_PROTO_TEB = 16w0x6558;     /* transparent Ethernet bridging */
const bit<16> GRE_PROTO_ERSPAN2 = 16w0x88BE; /* ERSPAN type II */
const bit<16> GRE_FLAG_KEY = 16w0x2000;
const bit<16> GRE_FLAG_SEQ = 16w0x1000;
/* VXLAN source port: 49152 + crc32 % 16384 (the dynamic port range). */
const bit<16> ENCAP_SPORT_BASE = 16w49152;
const bit<32> ENCAP_SPORT_RANGE = 32w16384;
/* Outer IPv4 header + tunnel headers, bytes (the MTU counts these). */
const bit<16> ENCAP_VXLAN_LEN = 16w36;       /* 20 + UDP 8 + VXLAN 8 */
const bit<16> ENCAP_GRE_LEN = 16w24;         /* 20 + GRE 4 */
const bit<16> ENCAP_GRE_KEY_LEN = 16w28;     /* 20 + GRE 4 + key 4 */
const bit<16> ENCAP_ERSPAN_LEN = 16w36;      /* 20 + GRE 4 + sequence 4 + ERSPAN 8 */

/* meta.encap_type */
const bit<8> ENCAP_NONE = 8w0;
const bit<8> ENCAP_VXLAN = 8w1;
const bit<8> ENCAP_GRE = 8w2;
const bit<8> ENCAP_ERSPAN = 8w3;

/* standard_metadata.instance_type of an ingress-to-egress clone (BMv2). */
const bit<32> INSTANCE_TYPE_INGRESS_CLONE = 32w1;

/* classify_hit `mode`: 1 = symmetric flow hash, anything else = round robin. */
const bit<8> MODE_FLOW_HASH = 8w1;

/* classify_hit_sampled `sample_mode`: 1 = the flows whose sampling bucket
 * (crc32 % 10000 of the flow key in another order) is below `sample_arg`,
 * 2 = the first packet of every `sample_arg`; anything else = every packet. */
const bit<8> SAMPLE_FLOWS = 8w1;
const bit<8> SAMPLE_ONE_IN = 8w2;
const bit<32> SAMPLE_BUCKETS = 32w10000;

/* Parser errors of our own (core.p4 declares the standard ones). */
error {
    Ipv4HeaderInvalid,  /* version != 4 or ihl < 5 */
    Ipv6VersionInvalid  /* version != 6 */
}

/* ------------------------------------------------------------------------ */
/* Headers                                                                   */
/* ------------------------------------------------------------------------ */

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

/* VXLAN (RFC 7348): flags 0x08 = the VNI is valid. */
header vxlan_t {
    bit<8>  flags;
    bit<24> reserved;
    bit<24> vni;
    bit<8>  reserved2;
}

/* GRE (RFC 2784/2890): C R K S s recur(3) flags(5) version(3), then protocol. */
header gre_t {
    bit<16> flags_version;
    bit<16> protocol;
}

header gre_key_t {
    bit<32> key;
}

header gre_seq_t {
    bit<32> seq;
}

/* ERSPAN type II (draft-foschiano-erspan). */
header erspan2_t {
    bit<4>  version;
    bit<12> vlan;
    bit<3>  cos;
    bit<2>  en;
    bit<1>  t;
    bit<10> session_id;
    bit<12> reserved;
    bit<20> index;
}

struct headers_t {
    /* Outer headers of an encapsulated clone (never parsed; set in egress). */
    ethernet_t     outer_ethernet;
    vlan_t         outer_vlan;
    ipv4_t         outer_ipv4;
    udp_t          outer_udp;
    vxlan_t        vxlan;
    gre_t          gre;
    gre_key_t      gre_key;
    gre_seq_t      gre_seq;
    erspan2_t      erspan;
    /* The frame as parsed. */
    ethernet_t     ethernet;
    vlan_t         vlan;
    ipv4_t         ipv4;
    ipv4_options_t ipv4_options;
    ipv6_t         ipv6;
    tcp_t          tcp;
    udp_t          udp;
}

struct metadata_t {
    /* TCP or UDP ports, 0 when neither header is valid. Recomputed at the
     * start of ingress and of egress (an I2E clone carries only `member`). */
    bit<16>  l4_src_port;
    bit<16>  l4_dst_port;

    /* Ingress: classification result and member selection. */
    bit<1>   classified;
    bit<16>  first_member;
    bit<16>  member_count;
    bit<8>   mode;
    bit<16>  member_offset;
    /* Ingress: filters (classify_skip) and sampling (classify_hit_sampled). */
    bit<1>   skipped;
    bit<8>   sample_mode;
    bit<16>  sample_arg;
    bit<16>  sample_bucket;
    bit<1>   sampled;
    /* Clone session id = member id; preserved into the clone's egress. */
    @field_list(1)
    bit<16>  member;
    /* VXLAN source port: 49152 + the symmetric flow hash % 16384; preserved too. */
    @field_list(1)
    bit<16>  encap_sport;

    /* Egress: clone_rewrite_set parameters. */
    bit<48>  dst_mac;
    bit<48>  src_mac;
    bit<12>  vlan_id;
    bit<16>  truncate_len;
    bit<1>   nat_restore;

    /* Egress: clone_encap_* parameters. */
    bit<8>   encap_type;
    bit<32>  encap_src4;
    bit<32>  encap_dst4;
    bit<32>  encap_id;         /* VNI, GRE key or ERSPAN session id */
    bit<1>   encap_key_present;
    bit<16>  encap_mtu;

    /* Egress: NAT binding found by nat_set_v4 / nat_set_v6. */
    bit<32>  nat_addr4;
    bit<128> nat_addr6;
    bit<16>  nat_port;
}

/* ------------------------------------------------------------------------ */
/* Parser                                                                    */
/* ------------------------------------------------------------------------ */

/*
 * Any failure (frame too short for a header, failed verify) stops the parser:
 * the headers extracted so far stay valid and the rest of the frame is
 * payload. In v1model a parser error does not drop the frame; ingress runs
 * with standard_metadata.parser_error set.
 */
parser TcParser(packet_in pkt,
                out headers_t hdr,
                inout metadata_t meta,
                inout standard_metadata_t standard_metadata) {

    state start {
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
        verify(hdr.ipv4.version == 4w4 && hdr.ipv4.ihl >= 4w5, error.Ipv4HeaderInvalid);
        transition select(hdr.ipv4.ihl) {
            4w5: parse_ipv4_l4;
            default: parse_ipv4_options;
        }
    }

    state parse_ipv4_options {
        /* ihl >= 6 here (verify above), so the length cannot underflow. */
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
        verify(hdr.ipv6.version == 4w6, error.Ipv6VersionInvalid);
        transition select(hdr.ipv6.next_header) {
            IPPROTO_TCP: parse_tcp;
            IPPROTO_UDP: parse_udp;
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

/* Checksums are only ever changed by the NAT restore in egress. */
control TcVerifyChecksum(inout headers_t hdr, inout metadata_t meta) {
    apply { }
}

/* ------------------------------------------------------------------------ */
/* Ingress                                                                   */
/* ------------------------------------------------------------------------ */

control TcIngress(inout headers_t hdr,
                  inout metadata_t meta,
                  inout standard_metadata_t standard_metadata) {

    @name(".clones_requested") @id(0x12000001)
    counter(32w32768, CounterType.packets_and_bytes) clones_requested;

    @name(".classify_v4_hits") @id(0x13000001)
    direct_counter(CounterType.packets_and_bytes) classify_v4_hits;

    @name(".classify_v6_hits") @id(0x13000002)
    direct_counter(CounterType.packets_and_bytes) classify_v6_hits;

    /* Round-robin cursor per profile, indexed by the profile's first member. */
    @name(".rr_cursor") @id(0x16000001)
    register<bit<16>>(32w32768) rr_cursor;

    /* Per profile block (index: its first member): packets a filter skipped,
     * packets sampling left out, and the one-in-N sampling position. */
    @name(".skipped_by_filter") @id(0x12000004)
    counter(32w32768, CounterType.packets_and_bytes) skipped_by_filter;

    @name(".not_sampled") @id(0x12000005)
    counter(32w32768, CounterType.packets_and_bytes) not_sampled;

    @name(".sample_cursor") @id(0x16000003)
    register<bit<16>>(32w32768) sample_cursor;

    @name(".wire_forward") @id(0x01000001)
    action wire_forward(bit<9> port) {
        standard_metadata.egress_spec = port;
    }

    @name(".wire_drop") @id(0x01000002)
    action wire_drop() {
        mark_to_drop(standard_metadata);
    }

    @name(".classify_hit") @id(0x01000003)
    action classify_hit(bit<16> first_member, bit<16> member_count, bit<8> mode) {
        meta.first_member = first_member;
        meta.member_count = member_count;
        meta.mode = mode;
        meta.sample_mode = 8w0;
        meta.classified = 1w1;
    }

    @name(".classify_miss") @id(0x01000004)
    action classify_miss() { }

    @name(".classify_hit_sampled") @id(0x0100000E)
    action classify_hit_sampled(bit<16> first_member, bit<16> member_count, bit<8> mode,
                                bit<8> sample_mode, bit<16> sample_arg) {
        meta.first_member = first_member;
        meta.member_count = member_count;
        meta.mode = mode;
        meta.sample_mode = sample_mode;
        meta.sample_arg = sample_arg;
        meta.classified = 1w1;
    }

    @name(".classify_skip") @id(0x0100000F)
    action classify_skip(bit<16> first_member) {
        meta.first_member = first_member;
        meta.skipped = 1w1;
    }

    @name(".wire") @id(0x02000001)
    table wire {
        key = {
            standard_metadata.ingress_port: exact @name("ingress_port");
        }
        actions = {
            wire_forward;
            wire_drop;
        }
        default_action = wire_drop();
        size = 512;
    }

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
            classify_hit_sampled;
            classify_skip;
        }
        default_action = classify_miss();
        counters = classify_v4_hits;
        size = 262144;
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
            classify_hit_sampled;
            classify_skip;
        }
        default_action = classify_miss();
        counters = classify_v6_hits;
        size = 65536;
    }

    apply {
        /* Round-robin cursor value. */
        bit<16>  rr_c = 16w0;
        /* Flow hash: the (address, port) pairs ordered so that both
         * directions of a connection hash alike. */
        bit<32>  lo_addr4 = 32w0;
        bit<32>  hi_addr4 = 32w0;
        bit<128> lo_addr6 = 128w0;
        bit<128> hi_addr6 = 128w0;
        bit<16>  lo_port = 16w0;
        bit<16>  hi_port = 16w0;
        /* One-in-N sampling position. */
        bit<16>  sample_c = 16w0;

        meta.classified = 1w0;
        meta.skipped = 1w0;
        meta.sample_mode = 8w0;
        meta.sampled = 1w1;
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

            if (meta.skipped == 1w1) {
                skipped_by_filter.count((bit<32>)meta.first_member);
            }

            if (meta.classified == 1w1 && meta.member_count != 16w0) {
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
                    hash(meta.encap_sport, HashAlgorithm.crc32, ENCAP_SPORT_BASE,
                         { lo_addr4, hi_addr4, lo_port, hi_port, hdr.ipv4.protocol },
                         ENCAP_SPORT_RANGE);
                    if (meta.sample_mode == SAMPLE_FLOWS) {
                        /* 13 bytes, another order: protocol(1) hi_port(2) lo_port(2) hi_addr(4) lo_addr(4). */
                        hash(meta.sample_bucket, HashAlgorithm.crc32, 16w0,
                             { hdr.ipv4.protocol, hi_port, lo_port, hi_addr4, lo_addr4 },
                             SAMPLE_BUCKETS);
                    }
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
                    hash(meta.encap_sport, HashAlgorithm.crc32, ENCAP_SPORT_BASE,
                         { lo_addr6, hi_addr6, lo_port, hi_port, hdr.ipv6.next_header },
                         ENCAP_SPORT_RANGE);
                    if (meta.sample_mode == SAMPLE_FLOWS) {
                        /* 37 bytes: 1 2 2 16 16. */
                        hash(meta.sample_bucket, HashAlgorithm.crc32, 16w0,
                             { hdr.ipv6.next_header, hi_port, lo_port, hi_addr6, lo_addr6 },
                             SAMPLE_BUCKETS);
                    }
                }

                /* Sampling: before member selection, so a packet left out
                 * moves no round-robin cursor. */
                if (meta.sample_mode == SAMPLE_FLOWS) {
                    if (meta.sample_bucket >= meta.sample_arg) {
                        meta.sampled = 1w0;
                    }
                } else if (meta.sample_mode == SAMPLE_ONE_IN) {
                    /* Wraps by comparison, as the round-robin cursor. */
                    sample_cursor.read(sample_c, (bit<32>)meta.first_member);
                    if (sample_c >= meta.sample_arg) {
                        sample_c = 16w0;
                    }
                    if (sample_c != 16w0) {
                        meta.sampled = 1w0;
                    }
                    sample_c = sample_c + 16w1;
                    if (sample_c >= meta.sample_arg) {
                        sample_c = 16w0;
                    }
                    sample_cursor.write((bit<32>)meta.first_member, sample_c);
                }

                if (meta.sampled == 1w0) {
                    not_sampled.count((bit<32>)meta.first_member);
                } else {
                    if (meta.mode == MODE_FLOW_HASH) {
                        /* member_offset = crc32 % member_count (inside hash). */
                        if (hdr.ipv4.isValid()) {
                            hash(meta.member_offset, HashAlgorithm.crc32, 16w0,
                                 { lo_addr4, hi_addr4, lo_port, hi_port, hdr.ipv4.protocol },
                                 meta.member_count);
                        } else {
                            hash(meta.member_offset, HashAlgorithm.crc32, 16w0,
                                 { lo_addr6, hi_addr6, lo_port, hi_port, hdr.ipv6.next_header },
                                 meta.member_count);
                        }
                    } else {
                        /* Round robin; the cursor wraps by comparison. */
                        rr_cursor.read(rr_c, (bit<32>)meta.first_member);
                        if (rr_c >= meta.member_count) {
                            rr_c = 16w0;
                        }
                        meta.member_offset = rr_c;
                        rr_c = rr_c + 16w1;
                        if (rr_c >= meta.member_count) {
                            rr_c = 16w0;
                        }
                        rr_cursor.write((bit<32>)meta.first_member, rr_c);
                    }

                    meta.member = meta.first_member + meta.member_offset;
                    clones_requested.count((bit<32>)meta.member);
                    /* Session id = member id; the clone's replica instance is the
                     * member id too, so egress sees it as egress_rid. */
                    clone_preserving_field_list(CloneType.I2E, (bit<32>)meta.member, 8w1);
                }
            }
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Egress                                                                    */
/* ------------------------------------------------------------------------ */

control TcEgress(inout headers_t hdr,
                 inout metadata_t meta,
                 inout standard_metadata_t standard_metadata) {

    @name(".clones_emitted") @id(0x12000002)
    counter(32w32768, CounterType.packets_and_bytes) clones_emitted;

    /* Encapsulated clones cut to fit the network's MTU, per member (egress_rid). */
    @name(".truncated_mtu") @id(0x12000003)
    counter(32w32768, CounterType.packets_and_bytes) truncated_mtu;

    /* ERSPAN sequence number of the next copy, per member (egress_rid). */
    @name(".erspan_seq") @id(0x16000002)
    register<bit<32>>(32w32768) erspan_seq;

    @name(".clone_rewrite_set") @id(0x01000005)
    action clone_rewrite_set(bit<48> dst_mac, bit<48> src_mac, bit<12> vlan_id,
                             bit<16> truncate_len, bit<1> nat_restore) {
        meta.dst_mac = dst_mac;
        meta.src_mac = src_mac;
        meta.vlan_id = vlan_id;
        meta.truncate_len = truncate_len;
        meta.nat_restore = nat_restore;
    }

    /* A clone whose member has no rewrite entry is not emitted. */
    @name(".clone_rewrite_miss") @id(0x01000006)
    action clone_rewrite_miss() {
        mark_to_drop(standard_metadata);
    }

    @name(".clone_encap_vxlan_v4") @id(0x0100000A)
    action clone_encap_vxlan_v4(bit<32> src_addr, bit<32> dst_addr, bit<24> vni, bit<16> mtu) {
        meta.encap_type = ENCAP_VXLAN;
        meta.encap_src4 = src_addr;
        meta.encap_dst4 = dst_addr;
        meta.encap_id = (bit<32>)vni;
        meta.encap_key_present = 1w0;
        meta.encap_mtu = mtu;
    }

    @name(".clone_encap_gre_v4") @id(0x0100000B)
    action clone_encap_gre_v4(bit<32> src_addr, bit<32> dst_addr, bit<32> key, bit<1> key_present,
                              bit<16> mtu) {
        meta.encap_type = ENCAP_GRE;
        meta.encap_src4 = src_addr;
        meta.encap_dst4 = dst_addr;
        meta.encap_id = key;
        meta.encap_key_present = key_present;
        meta.encap_mtu = mtu;
    }

    @name(".clone_encap_erspan_v4") @id(0x0100000C)
    action clone_encap_erspan_v4(bit<32> src_addr, bit<32> dst_addr, bit<10> session_id, bit<16> mtu) {
        meta.encap_type = ENCAP_ERSPAN;
        meta.encap_src4 = src_addr;
        meta.encap_dst4 = dst_addr;
        meta.encap_id = (bit<32>)session_id;
        meta.encap_key_present = 1w0;
        meta.encap_mtu = mtu;
    }

    /* Not encapsulated: the clone is rewritten in place (clone_rewrite). */
    @name(".clone_encap_none") @id(0x0100000D)
    action clone_encap_none() {
        meta.encap_type = ENCAP_NONE;
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

    @name(".clone_rewrite") @id(0x02000004)
    table clone_rewrite {
        key = {
            standard_metadata.egress_rid: exact @name("member");
        }
        actions = {
            clone_rewrite_set;
            clone_rewrite_miss;
        }
        default_action = clone_rewrite_miss();
        size = 32768;
    }

    @name(".clone_encap") @id(0x02000009)
    table clone_encap {
        key = {
            standard_metadata.egress_rid: exact @name("member");
        }
        actions = {
            clone_encap_vxlan_v4;
            clone_encap_gre_v4;
            clone_encap_erspan_v4;
            clone_encap_none;
        }
        default_action = clone_encap_none();
        size = 32768;
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
        size = 65536;
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
        size = 65536;
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
        size = 16384;
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
        size = 16384;
    }

    /*
     * Checksums are updated incrementally, RFC 1624 eqn. 3:
     *     HC' = ~(~HC + ~m + m')
     * summed over every changed 16-bit word m -> m'. ck_words accumulates
     * (~m + m') in 32 bits without folding; the final sum has at most 19
     * 16-bit terms (IPv6: ~HC, 8 + 8 address words, 2 port words), so it
     * stays below 0x130000 and two end-around-carry folds bring it to 16 bits.
     */
    apply {
        bit<32> ck_words = 32w0;
        bit<32> ck_sum = 32w0;
        /* Encapsulation: bytes of the outer headers from the IPv4 header on,
         * of the outer L2 header, of the original frame and of what is kept. */
        bit<16> encap_len = 16w0;
        bit<16> outer_l2_len = 16w14;
        bit<16> inner_len = 16w0;
        bit<16> kept_len = 16w0;
        bit<1>  mtu_cut = 1w0;
        bit<32> seq = 32w0;

        /* Originals (instance_type 0) pass unchanged. */
        if (standard_metadata.instance_type == INSTANCE_TYPE_INGRESS_CLONE) {
            /* Only meta.member survives the clone; recompute the ports. */
            meta.l4_src_port = 16w0;
            meta.l4_dst_port = 16w0;
            if (hdr.tcp.isValid()) {
                meta.l4_src_port = hdr.tcp.src_port;
                meta.l4_dst_port = hdr.tcp.dst_port;
            } else if (hdr.udp.isValid()) {
                meta.l4_src_port = hdr.udp.src_port;
                meta.l4_dst_port = hdr.udp.dst_port;
            }

            /* key: egress_rid = the replica instance = member id */
            if (clone_rewrite.apply().hit) {
                clones_emitted.count((bit<32>)standard_metadata.egress_rid);

                /* key: egress_rid; an encapsulated clone keeps the original
                 * frame as its inner frame, the rewrite's L2 goes outside. */
                clone_encap.apply();

                if (meta.encap_type == ENCAP_NONE) {
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
                }

                if (meta.nat_restore == 1w1) {
                    if (hdr.ipv4.isValid()) {
                        /* ---- IPv4 source: address and L4 source port ---- */
                        if (nat_src_v4.apply().hit) {
                            ck_words = (bit<32>)(~(hdr.ipv4.src_addr[31:16])) +
                                       (bit<32>)(~(hdr.ipv4.src_addr[15:0])) +
                                       (bit<32>)(meta.nat_addr4[31:16]) +
                                       (bit<32>)(meta.nat_addr4[15:0]);
                            /* IPv4 header checksum: the address */
                            ck_sum = (bit<32>)(~hdr.ipv4.hdr_checksum) + ck_words;
                            ck_sum = (ck_sum & 32w0xffff) + (ck_sum >> 16);
                            ck_sum = (ck_sum & 32w0xffff) + (ck_sum >> 16);
                            hdr.ipv4.hdr_checksum = ~(ck_sum[15:0]);
                            /* L4 checksum: the address (pseudo-header) and the port */
                            ck_words = ck_words +
                                       (bit<32>)(~meta.l4_src_port) +
                                       (bit<32>)meta.nat_port;
                            if (hdr.tcp.isValid()) {
                                ck_sum = (bit<32>)(~hdr.tcp.checksum) + ck_words;
                                ck_sum = (ck_sum & 32w0xffff) + (ck_sum >> 16);
                                ck_sum = (ck_sum & 32w0xffff) + (ck_sum >> 16);
                                hdr.tcp.checksum = ~(ck_sum[15:0]);
                                hdr.tcp.src_port = meta.nat_port;
                            } else if (hdr.udp.isValid()) {
                                if (hdr.udp.checksum != 16w0) {
                                    ck_sum = (bit<32>)(~hdr.udp.checksum) + ck_words;
                                    ck_sum = (ck_sum & 32w0xffff) + (ck_sum >> 16);
                                    ck_sum = (ck_sum & 32w0xffff) + (ck_sum >> 16);
                                    hdr.udp.checksum = ~(ck_sum[15:0]);
                                    /* RFC 768: a computed 0 is sent as all ones (0 = no checksum). */
                                    if (hdr.udp.checksum == 16w0) {
                                        hdr.udp.checksum = 16w0xffff;
                                    }
                                }
                                hdr.udp.src_port = meta.nat_port;
                            }
                            hdr.ipv4.src_addr = meta.nat_addr4;
                        }

                        /* ---- IPv4 destination: address and L4 destination port ---- */
                        if (nat_dst_v4.apply().hit) {
                            ck_words = (bit<32>)(~(hdr.ipv4.dst_addr[31:16])) +
                                       (bit<32>)(~(hdr.ipv4.dst_addr[15:0])) +
                                       (bit<32>)(meta.nat_addr4[31:16]) +
                                       (bit<32>)(meta.nat_addr4[15:0]);
                            ck_sum = (bit<32>)(~hdr.ipv4.hdr_checksum) + ck_words;
                            ck_sum = (ck_sum & 32w0xffff) + (ck_sum >> 16);
                            ck_sum = (ck_sum & 32w0xffff) + (ck_sum >> 16);
                            hdr.ipv4.hdr_checksum = ~(ck_sum[15:0]);
                            ck_words = ck_words +
                                       (bit<32>)(~meta.l4_dst_port) +
                                       (bit<32>)meta.nat_port;
                            if (hdr.tcp.isValid()) {
                                ck_sum = (bit<32>)(~hdr.tcp.checksum) + ck_words;
                                ck_sum = (ck_sum & 32w0xffff) + (ck_sum >> 16);
                                ck_sum = (ck_sum & 32w0xffff) + (ck_sum >> 16);
                                hdr.tcp.checksum = ~(ck_sum[15:0]);
                                hdr.tcp.dst_port = meta.nat_port;
                            } else if (hdr.udp.isValid()) {
                                if (hdr.udp.checksum != 16w0) {
                                    ck_sum = (bit<32>)(~hdr.udp.checksum) + ck_words;
                                    ck_sum = (ck_sum & 32w0xffff) + (ck_sum >> 16);
                                    ck_sum = (ck_sum & 32w0xffff) + (ck_sum >> 16);
                                    hdr.udp.checksum = ~(ck_sum[15:0]);
                                    /* RFC 768: a computed 0 is sent as all ones (0 = no checksum). */
                                    if (hdr.udp.checksum == 16w0) {
                                        hdr.udp.checksum = 16w0xffff;
                                    }
                                }
                                hdr.udp.dst_port = meta.nat_port;
                            }
                            hdr.ipv4.dst_addr = meta.nat_addr4;
                        }
                    } else if (hdr.ipv6.isValid()) {
                        /* ---- IPv6 source: 8 address words and the L4 source port ---- */
                        if (nat_src_v6.apply().hit) {
                            ck_words = (bit<32>)(~(hdr.ipv6.src_addr[127:112])) +
                                       (bit<32>)(~(hdr.ipv6.src_addr[111:96])) +
                                       (bit<32>)(~(hdr.ipv6.src_addr[95:80])) +
                                       (bit<32>)(~(hdr.ipv6.src_addr[79:64])) +
                                       (bit<32>)(~(hdr.ipv6.src_addr[63:48])) +
                                       (bit<32>)(~(hdr.ipv6.src_addr[47:32])) +
                                       (bit<32>)(~(hdr.ipv6.src_addr[31:16])) +
                                       (bit<32>)(~(hdr.ipv6.src_addr[15:0])) +
                                       (bit<32>)(meta.nat_addr6[127:112]) +
                                       (bit<32>)(meta.nat_addr6[111:96]) +
                                       (bit<32>)(meta.nat_addr6[95:80]) +
                                       (bit<32>)(meta.nat_addr6[79:64]) +
                                       (bit<32>)(meta.nat_addr6[63:48]) +
                                       (bit<32>)(meta.nat_addr6[47:32]) +
                                       (bit<32>)(meta.nat_addr6[31:16]) +
                                       (bit<32>)(meta.nat_addr6[15:0]) +
                                       (bit<32>)(~meta.l4_src_port) +
                                       (bit<32>)meta.nat_port;
                            if (hdr.tcp.isValid()) {
                                ck_sum = (bit<32>)(~hdr.tcp.checksum) + ck_words;
                                ck_sum = (ck_sum & 32w0xffff) + (ck_sum >> 16);
                                ck_sum = (ck_sum & 32w0xffff) + (ck_sum >> 16);
                                hdr.tcp.checksum = ~(ck_sum[15:0]);
                                hdr.tcp.src_port = meta.nat_port;
                            } else if (hdr.udp.isValid()) {
                                if (hdr.udp.checksum != 16w0) {
                                    ck_sum = (bit<32>)(~hdr.udp.checksum) + ck_words;
                                    ck_sum = (ck_sum & 32w0xffff) + (ck_sum >> 16);
                                    ck_sum = (ck_sum & 32w0xffff) + (ck_sum >> 16);
                                    hdr.udp.checksum = ~(ck_sum[15:0]);
                                    /* RFC 768: a computed 0 is sent as all ones (0 = no checksum). */
                                    if (hdr.udp.checksum == 16w0) {
                                        hdr.udp.checksum = 16w0xffff;
                                    }
                                }
                                hdr.udp.src_port = meta.nat_port;
                            }
                            hdr.ipv6.src_addr = meta.nat_addr6;
                        }

                        /* ---- IPv6 destination: 8 address words and the L4 destination port ---- */
                        if (nat_dst_v6.apply().hit) {
                            ck_words = (bit<32>)(~(hdr.ipv6.dst_addr[127:112])) +
                                       (bit<32>)(~(hdr.ipv6.dst_addr[111:96])) +
                                       (bit<32>)(~(hdr.ipv6.dst_addr[95:80])) +
                                       (bit<32>)(~(hdr.ipv6.dst_addr[79:64])) +
                                       (bit<32>)(~(hdr.ipv6.dst_addr[63:48])) +
                                       (bit<32>)(~(hdr.ipv6.dst_addr[47:32])) +
                                       (bit<32>)(~(hdr.ipv6.dst_addr[31:16])) +
                                       (bit<32>)(~(hdr.ipv6.dst_addr[15:0])) +
                                       (bit<32>)(meta.nat_addr6[127:112]) +
                                       (bit<32>)(meta.nat_addr6[111:96]) +
                                       (bit<32>)(meta.nat_addr6[95:80]) +
                                       (bit<32>)(meta.nat_addr6[79:64]) +
                                       (bit<32>)(meta.nat_addr6[63:48]) +
                                       (bit<32>)(meta.nat_addr6[47:32]) +
                                       (bit<32>)(meta.nat_addr6[31:16]) +
                                       (bit<32>)(meta.nat_addr6[15:0]) +
                                       (bit<32>)(~meta.l4_dst_port) +
                                       (bit<32>)meta.nat_port;
                            if (hdr.tcp.isValid()) {
                                ck_sum = (bit<32>)(~hdr.tcp.checksum) + ck_words;
                                ck_sum = (ck_sum & 32w0xffff) + (ck_sum >> 16);
                                ck_sum = (ck_sum & 32w0xffff) + (ck_sum >> 16);
                                hdr.tcp.checksum = ~(ck_sum[15:0]);
                                hdr.tcp.dst_port = meta.nat_port;
                            } else if (hdr.udp.isValid()) {
                                if (hdr.udp.checksum != 16w0) {
                                    ck_sum = (bit<32>)(~hdr.udp.checksum) + ck_words;
                                    ck_sum = (ck_sum & 32w0xffff) + (ck_sum >> 16);
                                    ck_sum = (ck_sum & 32w0xffff) + (ck_sum >> 16);
                                    hdr.udp.checksum = ~(ck_sum[15:0]);
                                    /* RFC 768: a computed 0 is sent as all ones (0 = no checksum). */
                                    if (hdr.udp.checksum == 16w0) {
                                        hdr.udp.checksum = 16w0xffff;
                                    }
                                }
                                hdr.udp.dst_port = meta.nat_port;
                            }
                            hdr.ipv6.dst_addr = meta.nat_addr6;
                        }
                    }
                }

                if (meta.encap_type == ENCAP_NONE) {
                    /* The length counts a pushed tag (docs/targets.md). */
                    if (meta.truncate_len != 16w0) {
                        truncate((bit<32>)meta.truncate_len);
                    }
                } else {
                    /* ---- Encapsulated delivery (docs/dataplane.md) ---- */
                    /* I2E clone: packet_length is the original's ingress length. */
                    inner_len = (bit<16>)standard_metadata.packet_length;
                    if (meta.encap_type == ENCAP_VXLAN) {
                        encap_len = ENCAP_VXLAN_LEN;
                    } else if (meta.encap_type == ENCAP_GRE) {
                        encap_len = ENCAP_GRE_LEN;
                        if (meta.encap_key_present == 1w1) {
                            encap_len = ENCAP_GRE_KEY_LEN;
                        }
                    } else {
                        encap_len = ENCAP_ERSPAN_LEN;
                    }
                    /* truncate_len bounds the original frame kept; then the MTU
                     * bounds the outer IPv4 packet. */
                    kept_len = inner_len;
                    if (meta.truncate_len != 16w0 && kept_len > meta.truncate_len) {
                        kept_len = meta.truncate_len;
                    }
                    if (kept_len > meta.encap_mtu - encap_len) {
                        kept_len = meta.encap_mtu - encap_len;
                        mtu_cut = 1w1;
                        truncated_mtu.count((bit<32>)standard_metadata.egress_rid);
                    }

                    hdr.outer_ethernet.setValid();
                    hdr.outer_ethernet.dst_addr = meta.dst_mac;
                    hdr.outer_ethernet.src_addr = meta.src_mac;
                    hdr.outer_ethernet.ether_type = ETHERTYPE_IPV4;
                    if (meta.vlan_id != 12w0) {
                        outer_l2_len = 16w18;
                        hdr.outer_vlan.setValid();
                        hdr.outer_vlan.pcp = 3w0;
                        hdr.outer_vlan.dei = 1w0;
                        hdr.outer_vlan.vid = meta.vlan_id;
                        hdr.outer_vlan.ether_type = ETHERTYPE_IPV4;
                        hdr.outer_ethernet.ether_type = ETHERTYPE_VLAN;
                    }

                    /* Checksum: TcComputeChecksum. Identification 0 with DF set
                     * (RFC 6864: an atomic datagram). */
                    hdr.outer_ipv4.setValid();
                    hdr.outer_ipv4.version = 4w4;
                    hdr.outer_ipv4.ihl = 4w5;
                    hdr.outer_ipv4.diffserv = 8w0;
                    hdr.outer_ipv4.total_len = encap_len + kept_len;
                    hdr.outer_ipv4.identification = 16w0;
                    hdr.outer_ipv4.flags = 3w2;
                    hdr.outer_ipv4.frag_offset = 13w0;
                    hdr.outer_ipv4.ttl = 8w64;
                    hdr.outer_ipv4.protocol = IPPROTO_GRE;
                    hdr.outer_ipv4.hdr_checksum = 16w0;
                    hdr.outer_ipv4.src_addr = meta.encap_src4;
                    hdr.outer_ipv4.dst_addr = meta.encap_dst4;

                    if (meta.encap_type == ENCAP_VXLAN) {
                        hdr.outer_ipv4.protocol = IPPROTO_UDP;
                        hdr.outer_udp.setValid();
                        hdr.outer_udp.src_port = meta.encap_sport;
                        hdr.outer_udp.dst_port = UDP_PORT_VXLAN;
                        hdr.outer_udp.length = encap_len - 16w20 + kept_len;
                        hdr.outer_udp.checksum = 16w0;
                        hdr.vxlan.setValid();
                        hdr.vxlan.flags = 8w0x08;
                        hdr.vxlan.reserved = 24w0;
                        hdr.vxlan.vni = meta.encap_id[23:0];
                        hdr.vxlan.reserved2 = 8w0;
                    } else if (meta.encap_type == ENCAP_GRE) {
                        hdr.gre.setValid();
                        hdr.gre.flags_version = 16w0;
                        hdr.gre.protocol = GRE_PROTO_TEB;
                        if (meta.encap_key_present == 1w1) {
                            hdr.gre.flags_version = GRE_FLAG_KEY;
                            hdr.gre_key.setValid();
                            hdr.gre_key.key = meta.encap_id;
                        }
                    } else {
                        erspan_seq.read(seq, (bit<32>)standard_metadata.egress_rid);
                        erspan_seq.write((bit<32>)standard_metadata.egress_rid, seq + 32w1);
                        hdr.gre.setValid();
                        hdr.gre.flags_version = GRE_FLAG_SEQ;
                        hdr.gre.protocol = GRE_PROTO_ERSPAN2;
                        hdr.gre_seq.setValid();
                        hdr.gre_seq.seq = seq;
                        hdr.erspan.setValid();
                        hdr.erspan.version = 4w1;
                        hdr.erspan.vlan = 12w0;
                        hdr.erspan.cos = 3w0;
                        hdr.erspan.en = 2w0;
                        if (hdr.vlan.isValid()) {
                            /* the original VLAN; the tag stays in the inner frame */
                            hdr.erspan.vlan = hdr.vlan.vid;
                            hdr.erspan.cos = hdr.vlan.pcp;
                            hdr.erspan.en = 2w3;
                        }
                        hdr.erspan.t = mtu_cut;
                        hdr.erspan.session_id = meta.encap_id[9:0];
                        hdr.erspan.reserved = 12w0;
                        hdr.erspan.index = 20w0;
                    }

                    /* truncate() counts every emitted byte, outer headers too. */
                    if (kept_len != inner_len) {
                        truncate((bit<32>)(outer_l2_len + encap_len + kept_len));
                    }
                }
            }
        }
    }
}

/* The outer IPv4 header of an encapsulated clone gets a full checksum; the
 * frame's own checksums are only ever changed by the NAT restore. */
control TcComputeChecksum(inout headers_t hdr, inout metadata_t meta) {
    apply {
        update_checksum(hdr.outer_ipv4.isValid(),
            { hdr.outer_ipv4.version, hdr.outer_ipv4.ihl, hdr.outer_ipv4.diffserv,
              hdr.outer_ipv4.total_len, hdr.outer_ipv4.identification,
              hdr.outer_ipv4.flags, hdr.outer_ipv4.frag_offset, hdr.outer_ipv4.ttl,
              hdr.outer_ipv4.protocol, hdr.outer_ipv4.src_addr, hdr.outer_ipv4.dst_addr },
            hdr.outer_ipv4.hdr_checksum, HashAlgorithm.csum16);
    }
}

/* ------------------------------------------------------------------------ */
/* Deparser                                                                  */
/* ------------------------------------------------------------------------ */

control TcDeparser(packet_out pkt, in headers_t hdr) {
    apply {
        pkt.emit(hdr.outer_ethernet);
        pkt.emit(hdr.outer_vlan);
        pkt.emit(hdr.outer_ipv4);
        pkt.emit(hdr.outer_udp);
        pkt.emit(hdr.vxlan);
        pkt.emit(hdr.gre);
        pkt.emit(hdr.gre_key);
        pkt.emit(hdr.gre_seq);
        pkt.emit(hdr.erspan);
        pkt.emit(hdr.ethernet);
        pkt.emit(hdr.vlan);
        pkt.emit(hdr.ipv4);
        pkt.emit(hdr.ipv4_options);
        pkt.emit(hdr.ipv6);
        pkt.emit(hdr.tcp);
        pkt.emit(hdr.udp);
    }
}

V1Switch(TcParser(),
         TcVerifyChecksum(),
         TcIngress(),
         TcEgress(),
         TcComputeChecksum(),
         TcDeparser()) main;
