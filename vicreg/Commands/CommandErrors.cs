using Vicreg.Engine;
using Vicreg.Engine.Data;
using Vicreg.Engine.Distributed.Mpi;
using Vicreg.Engine.IO;
using Vicreg.Training;

namespace Vicreg.Commands;

/// <summary>Turns the exceptions that mean "the user's input is wrong" into one-line usage errors (exit 2).
/// Anything else is a bug and keeps its stack trace.</summary>
public static class CommandErrors
{
    public static T Guard<T>(Func<T> work)
    {
        try
        {
            return work();
        }
        catch (Exception e) when (e is DatasetException or WeightsMismatchException or WeightsFormatException
                                      or CheckpointException or TrainingDivergedException or ShapeMismatchException
                                      or NonFiniteValuesException or ExperimentFolderInUseException
                                      or MpiException or MemoryBudgetException)
        {
            throw new UsageException(e.Message);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The disk, not the program: full, read-only, or a folder taken away.
            throw new UsageException($"file system: {e.Message}");
        }
        catch (InvalidOperationException e) when (e.Message.StartsWith("no CUDA device found", StringComparison.Ordinal))
        {
            throw new UsageException(e.Message);
        }
        catch (ArgumentException e) when (e.Message.StartsWith("--device", StringComparison.Ordinal))
        {
            throw new UsageException(e.Message);
        }
    }
}
