namespace Surge.Autoscale.Tests;

/// <summary>The assignment of partitions to silos: even, the same on every silo, and mostly stable as silos come and go.</summary>
public sealed class PartitionAssignmentTests
{
    private static string[] Silos(int count, int seed) =>
        Enumerable.Range(0, count).Select(i => $"S10.0.{seed}.{i}:11111@{900_000 + seed * 100 + i}").ToArray();

    [Theory]
    [InlineData(8, 1)]
    [InlineData(8, 3)]
    [InlineData(8, 5)]
    [InlineData(8, 8)]
    [InlineData(3, 5)]
    [InlineData(64, 7)]
    public void EverySiloGetsItsShare_WithinOne(int partitions, int silos)
    {
        var assignment = PartitionAssignment.Assign(partitions, Silos(silos, seed: 1));
        Assert.Equal(partitions, assignment.Length);
        var loads = Enumerable.Range(0, silos).Select(s => assignment.Count(a => a == s)).ToArray();
        Assert.Equal(partitions, loads.Sum());
        Assert.True(loads.Max() - loads.Min() <= 1, $"loads {string.Join(",", loads)}");
        Assert.Equal(Math.Min(partitions, silos), loads.Count(l => l > 0));
    }

    [Fact]
    public void TheAnswerDoesNotDependOnTheOrderTheSilosAreListedIn()
    {
        var silos = Silos(5, seed: 2);
        var reversed = silos.Reverse().ToArray();
        for (var p = 0; p < 16; p++)
        {
            Assert.Equal(PartitionAssignment.SiloFor(p, 16, silos), PartitionAssignment.SiloFor(p, 16, reversed));
        }
    }

    [Fact]
    public void ASiloJoiningOrLeaving_MovesFewPartitions()
    {
        const int Partitions = 32;
        var (joinMoves, leaveMoves, trials) = (0, 0, 0);
        for (var seed = 0; seed < 40; seed++)
        {
            var before = Silos(4, seed);
            var after = before.Append($"S10.9.{seed}.9:11111@1").ToArray();
            joinMoves += Moved(before, after);
            leaveMoves += Moved(after, before);
            trials++;
        }
        // Ideal: a joining fifth silo takes 32/5 ≈ 6.4 partitions and moves nothing else; hashing modulo the silo
        // count would move about 4/5 of them (25.6).
        var joinAverage = (double)joinMoves / trials;
        Assert.InRange(joinAverage, 6.0, 12.0);
        Assert.Equal(joinMoves, leaveMoves); // the same partitions, the other way

        static int Moved(string[] from, string[] to) =>
            Enumerable.Range(0, Partitions).Count(p => PartitionAssignment.SiloFor(p, Partitions, from) != PartitionAssignment.SiloFor(p, Partitions, to));
    }

    [Fact]
    public void NoSilo_IsAnError()
    {
        Assert.Throws<ArgumentException>(() => PartitionAssignment.Assign(8, []));
        Assert.Throws<ArgumentOutOfRangeException>(() => PartitionAssignment.Assign(-1, ["a"]));
    }

    [Theory]
    [InlineData(16, 3)]
    [InlineData(64, 7)]
    [InlineData(4_096, 97)]
    [InlineData(5, 9)]
    public void TheLinearSelection_GivesTheSameAnswerAsRankingEverySilo(int partitions, int silos)
    {
        var names = Silos(silos, seed: 4);
        Assert.Equal(ByRanking(partitions, names), PartitionAssignment.Assign(partitions, names));
    }

    /// <summary>The rule written the obvious way: rank every silo for the partition (highest score, then lower name) and
    /// take the first with room. The scores are the production code's, read through single-silo assignments.</summary>
    private static int[] ByRanking(int partitions, string[] silos)
    {
        var floor = partitions / silos.Length;
        var extras = partitions % silos.Length;
        var load = new int[silos.Length];
        var result = new int[partitions];
        for (var p = 0; p < partitions; p++)
        {
            var ranked = Enumerable.Range(0, silos.Length)
                .OrderByDescending(s => Score(silos[s], p)).ThenBy(s => silos[s], StringComparer.Ordinal).ToArray();
            var chosen = ranked.First(s => load[s] < floor || (load[s] == floor && extras > 0));
            if (load[chosen] == floor)
            {
                extras--;
            }
            load[chosen]++;
            result[p] = chosen;
        }
        return result;
    }

    private static ulong Score(string silo, int partition)
    {
        var key = 14695981039346656037UL;
        foreach (var c in silo)
        {
            key = (key ^ c) * 1099511628211UL;
        }
        var z = key ^ ((ulong)partition * 0x9E3779B97F4A7C15UL);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
