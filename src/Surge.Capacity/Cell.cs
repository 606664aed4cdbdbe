using Surge.Autoscale;

namespace Surge.Capacity;

/// <summary>How one region's cluster is simulated: its silo, its controller and the bounds of the service level.</summary>
public sealed record CellOptions
{
    public required Region Region { get; init; }
    public required SiloCalibration Silo { get; init; }
    public required AutoscaleOptions Controller { get; init; }
    public required ScalingMode Mode { get; init; }

    /// <summary>Partitions of the region's cluster (each seller's orders live in one).</summary>
    public int Partitions { get; init; } = 4_096;

    /// <summary>Silos serving when the day starts (null: as many as the first second's load needs at the target utilization).</summary>
    public int? InitialSilos { get; init; }

    /// <summary>Seconds between two decisions of the controller.</summary>
    public double ControlIntervalS { get; init; } = 5;

    /// <summary>Seconds between two partition placement checks (`Cluster:PlacementCheck`): membership changes take effect on it.</summary>
    public double PlacementCheckS { get; init; } = 1;

    /// <summary>Seconds a partition stays where it was placed before it may move again (`Cluster:PlacementResidenceMin`),
    /// unless its silo leaves.</summary>
    public double PlacementResidenceMinS { get; init; } = 5;

    /// <summary>A silo's start-up time varies by ± this share of <see cref="SiloCalibration.StartupS"/> (uniform).</summary>
    public double StartupJitter { get; init; } = 0.2;

    /// <summary>Mean hours between two failures of one silo (0 = silos never fail).</summary>
    public double SiloMtbfHours { get; init; }

    /// <summary>p99 bound of the service level, ms.</summary>
    public double SloP99Ms { get; init; } = 50;

    /// <summary>Refused share above which a window breaches the service level (0..1).</summary>
    public double SloRefusedShare { get; init; } = 0.01;

    /// <summary>Milliseconds every acknowledgement waits for replication to another region (0: none, or asynchronous).</summary>
    public double ReplicationAddedMs { get; init; }

    public int Seed { get; init; } = 1;
}

/// <summary>What a cell counted over one window of the day.</summary>
public sealed class WindowTally
{
    public double Offered, Accepted, Refused, Slow;
    public int SilosAlive, SilosServing, Target;

    /// <summary>A window breaches when more than the refused share is refused, or more than 1 % of the accepted orders are
    /// slower than the p99 bound (that is: the window's p99 is above it).</summary>
    public bool Breach(double refusedShare) => Offered > 0 && (Refused > refusedShare * Offered || (Accepted > 0 && Slow > 0.01 * Accepted));
}

/// <summary>
/// One region's cluster through the day, second by second (or by <c>step</c>): modelled silos that start, serve, fail
/// and drain; the real <see cref="AutoscaleController"/> deciding how many; the real <see cref="PartitionAssignment"/>
/// placing the partitions on the silos of the membership, so that every change of membership costs what it costs in the
/// server — partitions that move cannot answer for <see cref="SiloCalibration.MoveS"/>, those of a dead silo for
/// <see cref="SiloCalibration.FailoverS"/>. The actuator's rules are those of the local actuator: a scale-out starts
/// silos at once, a scale-in drains the newest silo (out of the load balancer first, billed until it leaves), a dead
/// silo is not counted and the controller replaces it. Orders are spread evenly over the silos that serve (a load
/// balancer); an order whose partition is away waits for it up to the request deadline, one beyond a silo's capacity
/// queues up to the deadline (or is refused at once above an admission cap), and every answer's latency comes from the
/// measured latency curve plus what it waited. Deterministic: no clock, no I/O, its own seeded random numbers.
/// </summary>
public sealed class Cell
{
    private sealed class Silo(int id, string name, double startAt, double readyAt, double failAt)
    {
        public int Id { get; } = id;
        public string Name { get; } = name;
        public double StartAt { get; } = startAt;
        public double ReadyAt { get; } = readyAt;
        public double FailAt { get; } = failAt;
        public double? ExitAt { get; set; }
        public bool Ready { get; set; }
        public bool Draining { get; set; }
        public bool Failed { get; set; }
        public bool Meant => !Draining && !Failed && ExitAt is null;
        public bool Member => Ready && Meant;
    }

    private enum EventKind { Ready, Fail, Exit }

    private readonly CellOptions _options;
    private readonly AutoscaleController _controller;
    private readonly IReadOnlyList<LoadForecast> _forecast;
    private readonly LatencyModel _latency;
    private readonly Random _random;
    private readonly List<Silo> _silos = [];
    private readonly PriorityQueue<(EventKind Kind, Silo Silo), (double At, long Seq)> _events = new();
    private readonly List<(double Until, int Count)> _away = []; // partitions that cannot answer, until when
    private readonly List<double> _deadFrontEnds = [];            // dead silos the load balancer still sends to, until when
    private readonly int[] _owner;
    private readonly double[] _placedAt;
    private readonly DateTimeOffset _epoch;
    private long _seq;
    private bool _membershipChanged;
    private double _nextPlacementAt;
    private double _nextControlAt;
    private double _backlogPerSilo;
    private double _intervalOffered, _intervalRefused;
    private bool _lost;

    public Cell(CellOptions options, IReadOnlyList<LoadForecast> forecast, DateTimeOffset epoch, double firstRate)
    {
        options.Controller.Validate();
        options.Silo.Validate();
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Partitions, 1);
        (_options, _forecast, _epoch) = (options, forecast, epoch);
        _controller = new AutoscaleController(options.Mode, options.Controller);
        _latency = new LatencyModel(options.Silo.LatencyCurve);
        _random = new Random(options.Seed);
        _owner = Enumerable.Repeat(-1, options.Partitions).ToArray();
        _placedAt = new double[options.Partitions];
        var initial = options.Mode == ScalingMode.FixedPeak ? options.Controller.SilosMax
            : options.InitialSilos ?? Math.Clamp((int)Math.Ceiling(firstRate / (options.Controller.SiloOrdersPerSMax * options.Controller.TargetUtilization)),
                options.Controller.SilosMin, options.Controller.SilosMax);
        for (var i = 0; i < initial; i++)
        {
            Start(0, ready: true); // a cluster that has been up: serving when the day starts, billed from then
        }
        Recount();
        Place(0);
    }

    public Region Region => _options.Region;

    /// <summary>Decisions that changed the number of silos, with their time (s) and reason.</summary>
    public List<string> Decisions { get; } = [];

    public int Failures { get; private set; }
    public int SilosAlivePeak { get; private set; }

    /// <summary>Partition moves (each a partition that could not answer for a while), failovers included.</summary>
    public long PartitionMoves { get; private set; }

    /// <summary>Silos serving now (in the membership and the load balancer's view).</summary>
    public int Serving { get; private set; }

    /// <summary>Silos meant to be up now (starting or serving): what the actuator reports to the controller.</summary>
    public int Target { get; private set; }

    /// <summary>Silos running now (billed): starting, serving or draining.</summary>
    public int Alive { get; private set; }

    /// <summary>Counts the silos again after a change (events, decisions): the step reads the counts, not the list.</summary>
    private void Recount()
    {
        (Serving, Target, Alive) = (0, 0, 0);
        foreach (var silo in _silos)
        {
            Serving += silo.Member ? 1 : 0;
            Target += silo.Meant ? 1 : 0;
            Alive += silo.ExitAt is null ? 1 : 0;
        }
    }

    /// <summary>Seconds the cell's silos ran within [0, <paramref name="end"/>): from their start (or the day's) to their exit.</summary>
    public double SiloSeconds(double end) => _silos.Sum(s => Math.Max(0, Math.Min(s.ExitAt ?? end, end) - Math.Max(0, s.StartAt)));

    /// <summary>Hours billed when silos are rented by the started hour: each silo's time within the day rounded up.</summary>
    public double BilledHours(double end) => _silos.Sum(s => Math.Ceiling(Math.Max(0, Math.Min(s.ExitAt ?? end, end) - Math.Max(0, s.StartAt)) / 3600));

    /// <summary>The region is lost at <paramref name="at"/>: every silo dies at once and the controller has nothing to
    /// act on until <see cref="Restore"/>.</summary>
    public void Lose(double at)
    {
        _lost = true;
        foreach (var silo in _silos.Where(s => s.ExitAt is null))
        {
            silo.Failed = true;
            silo.ExitAt = at;
        }
        _away.Clear();
        _deadFrontEnds.Clear();
        _backlogPerSilo = 0;
        Recount();
        Decisions.Add($"{at:0} s: region lost, {_silos.Count(s => s.ExitAt == at)} silos gone");
    }

    /// <summary>The oldest serving silo dies at <paramref name="at"/> (a what-if; failures otherwise come from the MTBF).</summary>
    public void FailSilo(double at)
    {
        var silo = _silos.FirstOrDefault(s => s.Member) ?? throw new InvalidOperationException("no silo serves");
        Fail(silo, at);
        Recount();
    }

    private void Fail(Silo silo, double at)
    {
        var wasMember = silo.Member;
        silo.Failed = true;
        silo.ExitAt = at;
        Failures++;
        if (wasMember)
        {
            _deadFrontEnds.Add(at + _options.Silo.FailoverS);
            _membershipChanged = true;
            _nextPlacementAt = at; // its partitions are placed again at once, and answer once the failover is over
        }
    }

    /// <summary>The region is back: the controller decides again from its next tick (from no silo).</summary>
    public void Restore(double at)
    {
        _lost = false;
        _nextControlAt = at;
        Decisions.Add($"{at:0} s: region back");
    }

    /// <summary>Serving capacity at the target utilization, orders/s (what a region taking load back must have).</summary>
    public double PlannedCapacity => Serving * _options.Controller.SiloOrdersPerSMax * _options.Controller.TargetUtilization;

    /// <summary>All of the region's partitions move at <paramref name="at"/> (its sellers come back from another region).</summary>
    public void MoveAllPartitions(double at)
    {
        _away.Add((at + _options.Silo.MoveS, _options.Partitions));
        PartitionMoves += _options.Partitions;
    }

    /// <summary>Advances the cell over [<paramref name="t"/>, <paramref name="t"/> + <paramref name="dt"/>) with orders
    /// due at <paramref name="ordersPerS"/>, adding what happened to <paramref name="tally"/>; returns the orders acknowledged.</summary>
    public double Step(double t, double dt, double ordersPerS, WindowTally tally)
    {
        RunEvents(t);
        if (_membershipChanged && t >= _nextPlacementAt)
        {
            Place(t);
        }
        if (!_lost && t >= _nextControlAt)
        {
            Control(t);
            _nextControlAt = t + _options.ControlIntervalS;
        }
        var offered = ordersPerS * dt;
        var (accepted, refused, slow) = Serve(t, dt, offered);
        _intervalOffered += offered;
        _intervalRefused += refused;
        tally.Offered += offered;
        tally.Accepted += accepted;
        tally.Refused += refused;
        tally.Slow += slow;
        SilosAlivePeak = Math.Max(SilosAlivePeak, Alive);
        tally.SilosAlive = Math.Max(tally.SilosAlive, Alive);
        tally.SilosServing = Math.Max(tally.SilosServing, Serving);
        tally.Target = Math.Max(tally.Target, Target);
        return accepted;
    }

    /// <summary>The latency of a typical order now (p99 of the curve at the current load, plus replication), for reports.</summary>
    public double P99Ms(double ordersPerS)
    {
        var serving = Math.Max(1, Serving);
        var u = ordersPerS / serving / _options.Silo.SiloOrdersPerS;
        return _latency.At(Math.Min(u, 1)).P99Ms + _backlogPerSilo / _options.Silo.SiloOrdersPerS * 1000 + _options.ReplicationAddedMs;
    }

    private (double Accepted, double Refused, double Slow) Serve(double t, double dt, double offered)
    {
        var silo = _options.Silo;
        var serving = Serving;
        if (_lost || serving == 0 || offered <= 0)
        {
            return (0, offered, 0);
        }
        _away.RemoveAll(a => a.Until <= t);
        _deadFrontEnds.RemoveAll(until => until <= t);
        // Orders sent to a dead silo the load balancer has not dropped yet fail.
        var refused = offered * _deadFrontEnds.Count / (serving + _deadFrontEnds.Count);
        var rest = offered - refused;
        // Orders whose partition is away wait for it, up to the request deadline.
        double waiting = 0, waitingSlow = 0, awayShare = 0;
        foreach (var (until, count) in _away)
        {
            // The share of the step's orders that find their partition away: its share of the partitions, for the part of the step it is away.
            var share = Math.Min(1, (double)count / _options.Partitions) * Math.Min(1, (until - t) / dt);
            awayShare += share;
            var orders = rest * share;
            var remaining = until - t;
            if (remaining > silo.RequestDeadlineS)
            {
                refused += orders;
            }
            else
            {
                waiting += orders;
                waitingSlow += orders * _latency.ShareSlowerThan(_options.SloP99Ms, 0, remaining / 2 * 1000 + _options.ReplicationAddedMs);
            }
        }
        awayShare = Math.Min(1, awayShare);
        var available = rest * (1 - awayShare);
        var perSilo = available / dt / serving;
        double accepted;
        double utilization;
        double waitS = 0;
        if (silo.AdmissionCapOrdersPerS > 0)
        {
            var taken = Math.Min(perSilo, silo.AdmissionCapOrdersPerS);
            refused += (perSilo - taken) * dt * serving;
            accepted = taken * dt * serving;
            utilization = taken / silo.SiloOrdersPerS;
        }
        else
        {
            var capacity = silo.SiloOrdersPerS;
            var backlog = Math.Max(0, _backlogPerSilo + (perSilo - capacity) * dt);
            var bound = capacity * silo.RequestDeadlineS;
            var overflow = Math.Max(0, backlog - bound);
            _backlogPerSilo = backlog - overflow;
            refused += overflow * serving;
            accepted = available - overflow * serving;
            utilization = Math.Min(1, perSilo / capacity);
            waitS = _backlogPerSilo / capacity;
        }
        var slow = accepted * _latency.ShareSlowerThan(_options.SloP99Ms, utilization, waitS * 1000 + _options.ReplicationAddedMs) + waitingSlow;
        return (accepted + waiting, refused, slow);
    }

    private void Control(double t)
    {
        var interval = _options.ControlIntervalS;
        var offeredPerS = _intervalOffered / interval;
        var refusedShare = _intervalOffered <= 0 ? 0 : _intervalRefused / _intervalOffered;
        (_intervalOffered, _intervalRefused) = (0, 0);
        var serving = Math.Max(1, Serving);
        var queue = _backlogPerSilo * serving / _options.Partitions;
        var cpu = Math.Min(1, offeredPerS / serving / _options.Silo.SiloOrdersPerS);
        var target = Target;
        var decision = _controller.Decide(new ClusterSignals(_epoch + TimeSpan.FromSeconds(t), target, offeredPerS, refusedShare, queue, cpu), _forecast);
        if (decision.Silos == target)
        {
            return;
        }
        Decisions.Add($"{t:0} s: {target} → {decision.Silos} silos ({decision.Reason})");
        for (var i = target; i < decision.Silos; i++)
        {
            Start(t, ready: false);
        }
        foreach (var silo in _silos.Where(s => s.Meant).OrderByDescending(s => s.Id).Take(target - decision.Silos).ToList())
        {
            Drain(silo, t);
        }
        Recount();
    }

    private void Start(double t, bool ready)
    {
        var jitter = 1 + _options.StartupJitter * (2 * _random.NextDouble() - 1);
        var readyAt = ready ? t : t + _options.Silo.StartupS * jitter;
        var failAt = _options.SiloMtbfHours > 0 ? readyAt - Math.Log(1 - _random.NextDouble()) * _options.SiloMtbfHours * 3600 : double.PositiveInfinity;
        var silo = new Silo(_silos.Count, $"{_options.Region.Name}-silo-{_silos.Count:D5}", t, readyAt, failAt);
        _silos.Add(silo);
        if (ready)
        {
            silo.Ready = true;
            _membershipChanged = true;
        }
        else
        {
            Schedule(readyAt, EventKind.Ready, silo);
        }
        if (double.IsFinite(failAt))
        {
            Schedule(failAt, EventKind.Fail, silo);
        }
    }

    private void Drain(Silo silo, double t)
    {
        silo.Draining = true; // out of the load balancer and the membership now; its partitions move
        _membershipChanged = true;
        Schedule(silo.Ready ? t + _options.Silo.DrainS : t, EventKind.Exit, silo);
    }

    private void Schedule(double at, EventKind kind, Silo silo) => _events.Enqueue((kind, silo), (at, _seq++));

    private void RunEvents(double t)
    {
        var any = false;
        while (_events.TryPeek(out var next, out var when) && when.At <= t)
        {
            _events.Dequeue();
            any = true;
            var silo = next.Silo;
            switch (next.Kind)
            {
                case EventKind.Ready when silo.Meant:
                    silo.Ready = true;
                    _membershipChanged = true;
                    break;
                case EventKind.Fail when silo.ExitAt is null && !silo.Draining:
                    Fail(silo, when.At);
                    break;
                case EventKind.Exit when silo.ExitAt is null:
                    silo.ExitAt = when.At;
                    break;
            }
        }
        if (any)
        {
            Recount();
        }
    }

    /// <summary>The membership changed: place every partition with <see cref="PartitionAssignment"/> over the silos of
    /// the membership; a partition that changes silo cannot answer for the move (or the failover) time.</summary>
    private void Place(double t)
    {
        _membershipChanged = false;
        _nextPlacementAt = t + _options.PlacementCheckS;
        var members = _silos.Where(s => s.Member).ToList();
        if (members.Count == 0)
        {
            return; // nobody to place on: the partitions wait where they are (their orders are refused meanwhile)
        }
        var assignment = PartitionAssignment.Assign(_options.Partitions, members.Select(s => s.Name).ToArray());
        int moved = 0, failedOver = 0;
        var failoverUntil = t;
        for (var p = 0; p < assignment.Length; p++)
        {
            var owner = members[assignment[p]].Id;
            var previous = _owner[p];
            if (previous == owner)
            {
                continue;
            }
            if (previous < 0)
            {
                (_owner[p], _placedAt[p]) = (owner, t);
                continue;
            }
            var from = _silos[previous];
            if (from.Member && t - _placedAt[p] < _options.PlacementResidenceMinS)
            {
                _membershipChanged = true; // it moves once it has stayed long enough: look again at the next check
                continue;
            }
            (_owner[p], _placedAt[p]) = (owner, t);
            if (from.Failed)
            {
                failedOver++;
                failoverUntil = Math.Max(failoverUntil, (from.ExitAt ?? t) + _options.Silo.FailoverS);
            }
            else
            {
                moved++;
            }
        }
        if (moved > 0)
        {
            _away.Add((t + _options.Silo.MoveS, moved));
        }
        if (failedOver > 0)
        {
            _away.Add((failoverUntil, failedOver));
        }
        PartitionMoves += moved + failedOver;
    }
}
