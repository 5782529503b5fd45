// netinit: the entrypoint of localkube's control-plane containers. It routes the cluster's pod and
// service ranges through the nodes, then gives up the right to change routes and executes the
// component, which becomes PID 1.
//
// Why: a control-plane container sits on the profile's Docker network with Docker's gateway as its
// default route. Without these routes, the API server's packets to pods and Services (webhooks,
// aggregated APIs, the service and pod proxy) would leave the machine through the host's default
// route instead of reaching the cluster. Routes live in the container's network namespace, which
// Docker makes anew at every start, so they are applied at every start, here.
//
// Usage:
//
//	netinit ROUTES_FILE -- COMMAND [ARGS...]   apply the routes, drop CAP_NET_ADMIN and
//	                                           CAP_SETPCAP, exec COMMAND
//	netinit ROUTES_FILE                        apply the routes and exit (for `docker exec` when
//	                                           the file changed, e.g. a node was added)
//
// ROUTES_FILE holds one `CIDR via IP` per line, of either family; blank lines and lines starting with '#' are
// skipped. Routes netinit installs carry a protocol number of their own, so a later run removes
// exactly those of its routes that the file no longer lists and never touches Docker's.
//
// It fails closed: when a route cannot be installed it exits non-zero and the component does not
// start, since running without the routes would send cluster traffic out of the machine.
package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"runtime"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// routeProtocol marks the routes netinit owns (a value outside the kernel's and the routing
// daemons' well-known ones).
const routeProtocol = netlink.RouteProtocol(0x4c) // 'L'

// A route to install: destination range and next hop.
type route struct {
	dst *net.IPNet
	via net.IP
}

func init() {
	// Capabilities are per thread: pin the main goroutine so the thread that drops NET_ADMIN and
	// SETPCAP is the thread that calls execve.
	runtime.LockOSThread()
}

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "netinit: %v\n", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		return fmt.Errorf("usage: netinit ROUTES_FILE [-- COMMAND [ARGS...]]")
	}
	file, rest := args[0], args[1:]
	var command []string
	if len(rest) > 0 {
		if rest[0] != "--" || len(rest) < 2 {
			return fmt.Errorf("expected `-- COMMAND [ARGS...]` after %s", file)
		}
		command = rest[1:]
	}
	routes, err := readRoutes(file)
	if err != nil {
		return err
	}
	if err := apply(routes); err != nil {
		return err
	}
	if command == nil {
		return nil
	}
	if err := dropCapabilities(); err != nil {
		return fmt.Errorf("dropping CAP_NET_ADMIN and CAP_SETPCAP before starting %s: %w", command[0], err)
	}
	return unix.Exec(command[0], command, os.Environ())
}

func readRoutes(path string) ([]route, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading the routes file: %w", err)
	}
	defer f.Close()
	var routes []route
	scanner := bufio.NewScanner(f)
	for n := 1; scanner.Scan(); n++ {
		line := strings.TrimSpace(scanner.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) != 3 || fields[1] != "via" {
			return nil, fmt.Errorf("%s:%d: expected `CIDR via IP`, got %q", path, n, line)
		}
		_, dst, err := net.ParseCIDR(fields[0])
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, n, err)
		}
		via := net.ParseIP(fields[2])
		if via == nil {
			return nil, fmt.Errorf("%s:%d: %q is not an IP address", path, n, fields[2])
		}
		routes = append(routes, route{dst: dst, via: via})
	}
	return routes, scanner.Err()
}

// apply installs every route (replacing one to the same range), then removes the routes netinit
// installed earlier that are no longer listed.
func apply(routes []route) error {
	wanted := map[string]bool{}
	for _, r := range routes {
		err := netlink.RouteReplace(&netlink.Route{Dst: r.dst, Gw: r.via, Protocol: routeProtocol})
		if err != nil {
			return fmt.Errorf("routing %s via %s: %w", r.dst, r.via, err)
		}
		wanted[r.dst.String()] = true
		fmt.Fprintf(os.Stderr, "netinit: %s via %s\n", r.dst, r.via)
	}
	// Both families: an IPv6 or dual-stack profile routes its IPv6 ranges too.
	existing, err := netlink.RouteListFiltered(netlink.FAMILY_ALL,
		&netlink.Route{Protocol: routeProtocol}, netlink.RT_FILTER_PROTOCOL)
	if err != nil {
		return fmt.Errorf("listing routes: %w", err)
	}
	for _, r := range existing {
		if r.Dst != nil && !wanted[r.Dst.String()] {
			if err := netlink.RouteDel(&r); err != nil {
				return fmt.Errorf("removing the stale route to %s: %w", r.Dst, err)
			}
			fmt.Fprintf(os.Stderr, "netinit: removed %s\n", r.Dst)
		}
	}
	return nil
}

// dropCapabilities removes CAP_NET_ADMIN and then CAP_SETPCAP (which PR_CAPBSET_DROP needs, so
// it goes last) from the bounding, inheritable and ambient sets, and from this thread's effective
// and permitted sets, so the component executed next cannot get either back (for root, execve
// grants bounding | inheritable). The component keeps only what its container adds for it to use.
func dropCapabilities() error {
	for _, c := range []uintptr{unix.CAP_NET_ADMIN, unix.CAP_SETPCAP} {
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, c, 0, 0, 0); err != nil {
			return fmt.Errorf("bounding set, capability %d: %w", c, err)
		}
	}
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil {
		return fmt.Errorf("ambient set: %w", err)
	}
	header := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&header, &data[0]); err != nil {
		return fmt.Errorf("reading capabilities: %w", err)
	}
	for _, c := range []uint{unix.CAP_NET_ADMIN, unix.CAP_SETPCAP} {
		bit := uint32(1) << (c % 32)
		word := c / 32
		data[word].Effective &^= bit
		data[word].Permitted &^= bit
		data[word].Inheritable &^= bit
	}
	if err := unix.Capset(&header, &data[0]); err != nil {
		return fmt.Errorf("writing capabilities: %w", err)
	}
	return nil
}
