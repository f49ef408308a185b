namespace Vicreg.Engine.Optim;

/// <summary>The official VICReg schedule: linear warm-up from 0 to <paramref name="peak"/> over the first
/// warm-up steps, then a cosine from peak down to finalFactor·peak at the last step.</summary>
public sealed class WarmupCosineSchedule(double peak, long warmupSteps, long totalSteps, double finalFactor = 0.001)
{
    /// <summary>The learning rate of step <paramref name="step"/> (from 0).</summary>
    public double At(long step)
    {
        if (step < warmupSteps) return peak * step / warmupSteps;
        long decaySteps = Math.Max(1, totalSteps - warmupSteps);
        double progress = Math.Min(1.0, (double)(step - warmupSteps) / decaySteps);
        double q = 0.5 * (1 + Math.Cos(Math.PI * progress));
        double end = peak * finalFactor;
        return peak * q + end * (1 - q);
    }
}

/// <summary>Cosine annealing stepped once per epoch (the linear-evaluation head's schedule, torch's CosineAnnealingLR with eta_min 0).</summary>
public sealed class CosineEpochSchedule(double baseLr, int epochs)
{
    /// <summary>The learning rate of epoch <paramref name="epoch"/> (from 0).</summary>
    public double At(int epoch) => baseLr * 0.5 * (1 + Math.Cos(Math.PI * epoch / Math.Max(1, epochs)));
}
