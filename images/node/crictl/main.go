// crictl: a small subset of cri-tools' crictl for localkube nodes.
//
// Why our own: the images are built from Go modules through the module proxy, and sigs.k8s.io/cri-tools is not
// available there (the proxy answers 403 for it), while k8s.io/cri-api (the CRI's protobuf API) is. This speaks
// CRI to containerd over its socket, with crictl's command names, flags and output shapes for the read-only
// commands people use to look into a node: version, info, ps, pods, images, inspect, inspectp, logs; stop to kill a
// container and watch kubelet restart it; and stopp/rmp for tidying up sandboxes.
//
// The endpoint comes from --runtime-endpoint/-r, else $CONTAINER_RUNTIME_ENDPOINT, else runtime-endpoint in
// /etc/crictl.yaml ($CRI_CONFIG_FILE), else containerd's default socket.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	cri "k8s.io/cri-api/pkg/apis/runtime/v1"
)

const defaultEndpoint = "unix:///run/containerd/containerd.sock"

// version is set with -ldflags "-X main.version=..." by the build.
var version = "localkube"

const usage = `usage: crictl [-r ENDPOINT] [-t TIMEOUT] COMMAND [ARGS]
commands (a subset of cri-tools' crictl):
  version                     runtime name and version
  info                        runtime status and config (JSON)
  ps [-a] [-q] [--name RE] [-p POD]  containers
  pods [-q] [--name NAME]     pod sandboxes
  images [-q]                 images
  inspect ID...               container status (JSON)
  inspectp ID...              pod sandbox status (JSON)
  logs [--tail N] ID          a container's log
  stop [--timeout N] ID...    stop containers (kubelet restarts them: the control loop at work)
  stopp ID...                 stop pod sandboxes
  rmp [-f] ID...              remove pod sandboxes
`

type client struct {
	rt  cri.RuntimeServiceClient
	img cri.ImageServiceClient
	ctx context.Context
}

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "crictl:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	endpoint, timeout := "", 10*time.Second
	for len(args) > 0 && strings.HasPrefix(args[0], "-") {
		flag, value, hasValue := strings.Cut(args[0], "=")
		next := func() (string, error) {
			if hasValue {
				return value, nil
			}
			if len(args) < 2 {
				return "", fmt.Errorf("%s needs a value", flag)
			}
			args = args[1:]
			return args[0], nil
		}
		switch flag {
		case "-r", "--runtime-endpoint", "-i", "--image-endpoint":
			v, err := next()
			if err != nil {
				return err
			}
			endpoint = v
		case "-t", "--timeout":
			v, err := next()
			if err != nil {
				return err
			}
			d, err := time.ParseDuration(v)
			if err != nil {
				return fmt.Errorf("--timeout: %w", err)
			}
			timeout = d
		case "-h", "--help":
			fmt.Print(usage)
			return nil
		case "-v", "--version":
			fmt.Println("crictl version", version)
			return nil
		default:
			return fmt.Errorf("unknown flag %s\n%s", flag, usage)
		}
		args = args[1:]
	}
	if len(args) == 0 {
		fmt.Print(usage)
		return errors.New("no command")
	}
	cmd, rest := args[0], args[1:]
	if cmd == "help" {
		fmt.Print(usage)
		return nil
	}

	if endpoint == "" {
		endpoint = configuredEndpoint()
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	conn, err := grpc.NewClient(endpoint, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return fmt.Errorf("connect to %s: %w", endpoint, err)
	}
	defer conn.Close()
	c := &client{rt: cri.NewRuntimeServiceClient(conn), img: cri.NewImageServiceClient(conn), ctx: ctx}

	switch cmd {
	case "version":
		return c.version()
	case "info":
		return c.info()
	case "ps":
		return c.ps(rest)
	case "pods":
		return c.pods(rest)
	case "images", "image", "img":
		return c.images(rest)
	case "inspect":
		return c.inspect(rest)
	case "inspectp":
		return c.inspectp(rest)
	case "logs":
		return c.logs(rest)
	case "stop":
		return c.stop(rest)
	case "stopp":
		return c.stopp(rest)
	case "rmp":
		return c.rmp(rest)
	}
	return fmt.Errorf("unknown command %q\n%s", cmd, usage)
}

// configuredEndpoint reads runtime-endpoint from the environment or crictl.yaml (plain `key: value` lines).
func configuredEndpoint() string {
	if v := os.Getenv("CONTAINER_RUNTIME_ENDPOINT"); v != "" {
		return v
	}
	path := os.Getenv("CRI_CONFIG_FILE")
	if path == "" {
		path = "/etc/crictl.yaml"
	}
	if f, err := os.Open(path); err == nil {
		defer f.Close()
		s := bufio.NewScanner(f)
		for s.Scan() {
			key, value, ok := strings.Cut(s.Text(), ":")
			if ok && strings.TrimSpace(key) == "runtime-endpoint" {
				return strings.Trim(strings.TrimSpace(value), `"'`)
			}
		}
	}
	return defaultEndpoint
}

func printJSON(v any) error {
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// verboseInfo turns a CRI verbose info map (values are JSON documents) into one JSON object.
func verboseInfo(info map[string]string) map[string]any {
	out := map[string]any{}
	for k, v := range info {
		var decoded any
		if json.Unmarshal([]byte(v), &decoded) == nil {
			out[k] = decoded
		} else {
			out[k] = v
		}
	}
	return out
}

func (c *client) version() error {
	v, err := c.rt.Version(c.ctx, &cri.VersionRequest{})
	if err != nil {
		return err
	}
	fmt.Printf("Version:  %s\nRuntimeName:  %s\nRuntimeVersion:  %s\nRuntimeApiVersion:  %s\n",
		v.Version, v.RuntimeName, v.RuntimeVersion, v.RuntimeApiVersion)
	return nil
}

func (c *client) info() error {
	s, err := c.rt.Status(c.ctx, &cri.StatusRequest{Verbose: true})
	if err != nil {
		return err
	}
	out := verboseInfo(s.Info)
	out["status"] = s.Status
	return printJSON(out)
}

func shortID(id string) string {
	if len(id) > 13 {
		return id[:13]
	}
	return id
}

func ago(nanos int64) string {
	d := time.Since(time.Unix(0, nanos)).Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%d seconds ago", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%d minutes ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d hours ago", int(d.Hours()))
	}
	return fmt.Sprintf("%d days ago", int(d.Hours()/24))
}

func table() *tabwriter.Writer { return tabwriter.NewWriter(os.Stdout, 0, 8, 3, ' ', 0) }

type psFlags struct {
	all, quiet bool
	name, pod  string
}

func (c *client) ps(args []string) error {
	var f psFlags
	for i := 0; i < len(args); i++ {
		switch args[i] {
		case "-a", "--all":
			f.all = true
		case "-q", "--quiet":
			f.quiet = true
		case "--name":
			i++
			if i < len(args) {
				f.name = args[i]
			}
		case "-p", "--pod":
			i++
			if i < len(args) {
				f.pod = args[i]
			}
		default:
			return fmt.Errorf("ps: unknown argument %s", args[i])
		}
	}
	resp, err := c.rt.ListContainers(c.ctx, &cri.ListContainersRequest{})
	if err != nil {
		return err
	}
	list := resp.Containers
	sort.Slice(list, func(i, j int) bool { return list[i].CreatedAt > list[j].CreatedAt })
	w := table()
	if !f.quiet {
		fmt.Fprintln(w, "CONTAINER\tIMAGE\tCREATED\tSTATE\tNAME\tATTEMPT\tPOD ID\tPOD")
	}
	for _, ctr := range list {
		if !f.all && ctr.State != cri.ContainerState_CONTAINER_RUNNING {
			continue
		}
		if f.name != "" && !strings.Contains(ctr.Metadata.GetName(), f.name) {
			continue
		}
		if f.pod != "" && !strings.HasPrefix(ctr.PodSandboxId, f.pod) {
			continue
		}
		if f.quiet {
			fmt.Fprintln(w, ctr.Id)
			continue
		}
		state := strings.TrimPrefix(ctr.State.String(), "CONTAINER_")
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", shortID(ctr.Id), shortID(strings.TrimPrefix(ctr.ImageRef, "sha256:")),
			ago(ctr.CreatedAt), state, ctr.Metadata.GetName(), ctr.Metadata.GetAttempt(), shortID(ctr.PodSandboxId),
			ctr.Labels["io.kubernetes.pod.name"])
	}
	return w.Flush()
}

func (c *client) pods(args []string) error {
	quiet, name := false, ""
	for i := 0; i < len(args); i++ {
		switch args[i] {
		case "-q", "--quiet":
			quiet = true
		case "--name":
			i++
			if i < len(args) {
				name = args[i]
			}
		default:
			return fmt.Errorf("pods: unknown argument %s", args[i])
		}
	}
	resp, err := c.rt.ListPodSandbox(c.ctx, &cri.ListPodSandboxRequest{})
	if err != nil {
		return err
	}
	list := resp.Items
	sort.Slice(list, func(i, j int) bool { return list[i].CreatedAt > list[j].CreatedAt })
	w := table()
	if !quiet {
		fmt.Fprintln(w, "POD ID\tCREATED\tSTATE\tNAME\tNAMESPACE\tATTEMPT")
	}
	for _, p := range list {
		if name != "" && !strings.Contains(p.Metadata.GetName(), name) {
			continue
		}
		if quiet {
			fmt.Fprintln(w, p.Id)
			continue
		}
		state := map[cri.PodSandboxState]string{cri.PodSandboxState_SANDBOX_READY: "Ready"}[p.State]
		if state == "" {
			state = "NotReady"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%d\n", shortID(p.Id), ago(p.CreatedAt), state, p.Metadata.GetName(),
			p.Metadata.GetNamespace(), p.Metadata.GetAttempt())
	}
	return w.Flush()
}

func humanSize(b uint64) string {
	units := []string{"B", "kB", "MB", "GB", "TB"}
	f := float64(b)
	i := 0
	for f >= 1000 && i < len(units)-1 {
		f /= 1000
		i++
	}
	return fmt.Sprintf("%.4g%s", f, units[i])
}

func (c *client) images(args []string) error {
	quiet := len(args) > 0 && (args[0] == "-q" || args[0] == "--quiet")
	resp, err := c.img.ListImages(c.ctx, &cri.ListImagesRequest{})
	if err != nil {
		return err
	}
	w := table()
	if !quiet {
		fmt.Fprintln(w, "IMAGE\tTAG\tIMAGE ID\tSIZE")
	}
	for _, im := range resp.Images {
		if quiet {
			fmt.Fprintln(w, im.Id)
			continue
		}
		tags := im.RepoTags
		if len(tags) == 0 {
			tags = []string{"<none>:<none>"}
		}
		for _, t := range tags {
			i := strings.LastIndex(t, ":")
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", t[:i], t[i+1:], shortID(strings.TrimPrefix(im.Id, "sha256:")), humanSize(im.Size))
		}
	}
	return w.Flush()
}

// resolveContainer expands an ID prefix to a full container ID, as crictl does.
func (c *client) resolveContainer(prefix string) (string, error) {
	resp, err := c.rt.ListContainers(c.ctx, &cri.ListContainersRequest{})
	if err != nil {
		return "", err
	}
	var found []string
	for _, ctr := range resp.Containers {
		if strings.HasPrefix(ctr.Id, prefix) {
			found = append(found, ctr.Id)
		}
	}
	if len(found) != 1 {
		return "", fmt.Errorf("%d containers match %q", len(found), prefix)
	}
	return found[0], nil
}

func (c *client) resolvePod(prefix string) (string, error) {
	resp, err := c.rt.ListPodSandbox(c.ctx, &cri.ListPodSandboxRequest{})
	if err != nil {
		return "", err
	}
	var found []string
	for _, p := range resp.Items {
		if strings.HasPrefix(p.Id, prefix) {
			found = append(found, p.Id)
		}
	}
	if len(found) != 1 {
		return "", fmt.Errorf("%d pod sandboxes match %q", len(found), prefix)
	}
	return found[0], nil
}

func (c *client) inspect(ids []string) error {
	for _, prefix := range ids {
		id, err := c.resolveContainer(prefix)
		if err != nil {
			return err
		}
		s, err := c.rt.ContainerStatus(c.ctx, &cri.ContainerStatusRequest{ContainerId: id, Verbose: true})
		if err != nil {
			return err
		}
		out := verboseInfo(s.Info)
		out["status"] = s.Status
		if err := printJSON(out); err != nil {
			return err
		}
	}
	return nil
}

func (c *client) inspectp(ids []string) error {
	for _, prefix := range ids {
		id, err := c.resolvePod(prefix)
		if err != nil {
			return err
		}
		s, err := c.rt.PodSandboxStatus(c.ctx, &cri.PodSandboxStatusRequest{PodSandboxId: id, Verbose: true})
		if err != nil {
			return err
		}
		out := verboseInfo(s.Info)
		out["status"] = s.Status
		if err := printJSON(out); err != nil {
			return err
		}
	}
	return nil
}

// logs prints a container's log file, turning CRI log lines ("<time> <stream> <P|F> <text>") back into text.
func (c *client) logs(args []string) error {
	tail, id := -1, ""
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--tail" && i+1 < len(args):
			i++
			n, err := strconv.Atoi(args[i])
			if err != nil {
				return fmt.Errorf("--tail: %w", err)
			}
			tail = n
		case strings.HasPrefix(a, "--tail="):
			n, err := strconv.Atoi(strings.TrimPrefix(a, "--tail="))
			if err != nil {
				return fmt.Errorf("--tail: %w", err)
			}
			tail = n
		case !strings.HasPrefix(a, "-") && id == "":
			id = a
		default:
			return fmt.Errorf("logs: unknown argument %s", a)
		}
	}
	if id == "" {
		return errors.New("logs: container ID required")
	}
	full, err := c.resolveContainer(id)
	if err != nil {
		return err
	}
	s, err := c.rt.ContainerStatus(c.ctx, &cri.ContainerStatusRequest{ContainerId: full})
	if err != nil {
		return err
	}
	f, err := os.Open(s.Status.LogPath)
	if err != nil {
		return err
	}
	defer f.Close()
	var lines []string
	var partial strings.Builder
	r := bufio.NewReader(f)
	for {
		line, err := r.ReadString('\n')
		if line != "" {
			fields := strings.SplitN(strings.TrimSuffix(line, "\n"), " ", 4)
			if len(fields) == 4 {
				partial.WriteString(fields[3])
				if fields[2] != "P" { // F: the line is complete
					lines = append(lines, partial.String())
					partial.Reset()
				}
			}
		}
		if err == io.EOF {
			break
		} else if err != nil {
			return err
		}
	}
	if tail >= 0 && tail < len(lines) {
		lines = lines[len(lines)-tail:]
	}
	for _, l := range lines {
		fmt.Println(l)
	}
	return nil
}

func (c *client) stop(args []string) error {
	var timeout int64
	var ids []string
	for i := 0; i < len(args); i++ {
		switch args[i] {
		case "-t", "--timeout":
			if i+1 >= len(args) {
				return errors.New("--timeout needs a number of seconds")
			}
			n, err := strconv.ParseInt(args[i+1], 10, 64)
			if err != nil {
				return fmt.Errorf("--timeout %q: %v", args[i+1], err)
			}
			timeout = n
			i++
		default:
			ids = append(ids, args[i])
		}
	}
	if len(ids) == 0 {
		return errors.New("stop needs a container ID")
	}
	for _, prefix := range ids {
		id, err := c.resolveContainer(prefix)
		if err != nil {
			return err
		}
		if _, err := c.rt.StopContainer(c.ctx, &cri.StopContainerRequest{ContainerId: id, Timeout: timeout}); err != nil {
			return err
		}
		fmt.Println(id)
	}
	return nil
}

func (c *client) stopp(ids []string) error {
	for _, prefix := range ids {
		id, err := c.resolvePod(prefix)
		if err != nil {
			return err
		}
		if _, err := c.rt.StopPodSandbox(c.ctx, &cri.StopPodSandboxRequest{PodSandboxId: id}); err != nil {
			return err
		}
		fmt.Printf("Stopped sandbox %s\n", id)
	}
	return nil
}

func (c *client) rmp(args []string) error {
	force := false
	var ids []string
	for _, a := range args {
		if a == "-f" || a == "--force" {
			force = true
		} else {
			ids = append(ids, a)
		}
	}
	for _, prefix := range ids {
		id, err := c.resolvePod(prefix)
		if err != nil {
			return err
		}
		if force {
			if _, err := c.rt.StopPodSandbox(c.ctx, &cri.StopPodSandboxRequest{PodSandboxId: id}); err != nil {
				return err
			}
		}
		if _, err := c.rt.RemovePodSandbox(c.ctx, &cri.RemovePodSandboxRequest{PodSandboxId: id}); err != nil {
			return err
		}
		fmt.Printf("Removed sandbox %s\n", id)
	}
	return nil
}
